"""Fails the first attempt of each distinct event and succeeds when the same event comes again:
an async retry (same event, same request ID) or a replay (same event, new request ID). Like a
dependency that is cold the first time it sees a key. A marker file in TMPDIR remembers it."""

import hashlib
import json
import os
import tempfile


def lambda_handler(event, context):
    key = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:32]
    marker = os.path.join(tempfile.gettempdir(), f"flaky-{key}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("transient failure, please retry")
    os.remove(marker)
    print("succeeded on a retry")
    return {"ok": True}
