"""Fails the first attempt of each request and succeeds on a retry (async retries keep the
request ID, so the marker file tells the attempts apart)."""

import os
import tempfile


def lambda_handler(event, context):
    marker = os.path.join(tempfile.gettempdir(), f"flaky-{context.aws_request_id}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("transient failure, please retry")
    os.remove(marker)
    print("succeeded on a retry")
    return {"ok": True}
