"""An account N times the demo (`sandbox --scale N`): beside the sample resources, N×10 more
functions in the shapes a real account has, so that the inventory sync, discovery and the
pages meet hundreds of functions, versions, aliases, mappings and queues.

Each block of ten functions `fleet-NNNN` (the `hello` handler, so any of them can be invoked):

- every function: two published versions (version 1 with 128 MB, then 256 MB), an alias `live`
  on version 2 and `previous` on version 1, and its log group `/aws/lambda/NAME`;
- functions 0 and 1: an OnFailure destination queue `NAME-on-failure` (2 retries);
- functions 2 and 3: a dead-letter queue `NAME-dlq`;
- functions 4 to 7: an SQS event source mapping (disabled, so that the sandbox runs no poller
  for it) from one of two input queues `fleet-block-NNN-input-A|B`, each with a redrive DLQ
  `…-dlq` (four mappings, and six queues, per block).

At `--scale 50`: 500 functions, 1,000 versions, 1,000 aliases, 200 mappings, 300 queues.
"""

from __future__ import annotations

import json

from sandbox.seed import HANDLER, RUNTIME, _Clients, _ensure_role, function_zip


def fleet_name(index: int) -> str:
    return f"fleet-{index:04d}"


def seed_scale(endpoint_url: str, scale: int, region: str = "us-east-1") -> dict:
    """Create the N×10 functions and their resources; returns {"functions", "queues"} in the
    shape `seed.seed` does (queues the dashboard should watch, with kind and function)."""
    clients = _Clients(endpoint_url, region)
    role_arn = _ensure_role(clients.iam)
    code = function_zip("hello")
    logs_client = _logs_client(endpoint_url, region)
    result: dict[str, list] = {"functions": [], "queues": [], "mappings": 0}

    def queue(name: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
        url = clients.sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
        arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn

    for block in range(scale):
        inputs = []
        for letter in "AB":
            base = f"fleet-block-{block:03d}-input-{letter}"
            dlq_url, dlq_arn = queue(f"{base}-dlq")
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
            _, input_arn = queue(base, {"VisibilityTimeout": "30", "RedrivePolicy": redrive})
            inputs.append(input_arn)
        for offset in range(10):
            name = fleet_name(block * 10 + offset)
            settings: dict = {
                "Role": role_arn,
                "Runtime": RUNTIME,
                "Handler": HANDLER,
                "Timeout": 3,
                "MemorySize": 128,
                "Description": f"fleet function {name}",
            }
            if offset in (2, 3):
                url, arn = queue(f"{name}-dlq")
                settings["DeadLetterConfig"] = {"TargetArn": arn}
                result["queues"].append({"url": url, "arn": arn, "kind": "dlq", "function": name})
            lam = clients.awslambda
            lam.create_function(FunctionName=name, Code={"ZipFile": code}, **settings)
            lam.publish_version(FunctionName=name)
            lam.update_function_configuration(FunctionName=name, MemorySize=256)
            lam.publish_version(FunctionName=name)
            lam.create_alias(FunctionName=name, Name="previous", FunctionVersion="1")
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
            logs_client.create_log_group(logGroupName=f"/aws/lambda/{name}")
            if offset in (0, 1):
                url, arn = queue(f"{name}-on-failure")
                lam.put_function_event_invoke_config(
                    FunctionName=name,
                    MaximumRetryAttempts=2,
                    DestinationConfig={"OnFailure": {"Destination": arn}},
                )
                result["queues"].append(
                    {"url": url, "arn": arn, "kind": "destination", "function": name}
                )
            if 4 <= offset <= 7:
                lam.create_event_source_mapping(
                    FunctionName=name,
                    EventSourceArn=inputs[offset % 2],
                    BatchSize=10,
                    Enabled=False,
                )
                result["mappings"] += 1
            result["functions"].append(name)
    return result


def _logs_client(endpoint_url: str, region: str):
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    return session.client("logs", endpoint_url=endpoint_url)
