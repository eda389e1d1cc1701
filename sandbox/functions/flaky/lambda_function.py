"""Fails the first attempt of each distinct event and succeeds when the same event comes again:
an async retry (same event, same request ID) or a replay (same event, new request ID). Like a
dependency that is cold the first time it sees a key.

The memory of what it has seen is an object in S3, not a file in /tmp: each execution
environment has its own /tmp, and a retry may run in another environment than the first try,
exactly as on Lambda."""

import hashlib
import json
import os

import boto3
from botocore.exceptions import ClientError

BUCKET = "lambda-triage-flaky-state"
s3 = boto3.client("s3")


def _ensure_bucket() -> None:
    region = os.environ.get("AWS_REGION", "us-east-1")
    settings = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    try:
        s3.create_bucket(Bucket=BUCKET, **settings)
    except ClientError as error:
        if error.response["Error"]["Code"] not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


_ensure_bucket()


def lambda_handler(event, context):
    key = "flaky-" + hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:32]
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
    except ClientError:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
        raise RuntimeError("transient failure, please retry") from None
    s3.delete_object(Bucket=BUCKET, Key=key)
    print("succeeded on a retry")
    return {"ok": True}
