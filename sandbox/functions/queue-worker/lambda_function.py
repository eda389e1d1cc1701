"""Fed by the SQS queue `queue-worker-input` through an event source mapping with
`ReportBatchItemFailures`. Each message should be a JSON object with a positive integer
`quantity`; the others are reported in `batchItemFailures`, so only they go back to the queue.
After `maxReceiveCount` (3) receives the queue's redrive policy moves them to
`queue-worker-dlq`. A message `{"crash": true}` raises instead, failing the whole batch."""

import json


def lambda_handler(event, context):
    failures = []
    processed = 0
    for record in event["Records"]:
        try:
            message = json.loads(record["body"])
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("crash"):
            raise RuntimeError(f"message {record['messageId']} crashed the batch")
        quantity = message.get("quantity") if isinstance(message, dict) else None
        if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0:
            processed += 1
            continue
        receives = record["attributes"].get("ApproximateReceiveCount")
        print(f"cannot process {record['messageId']} (receive {receives}): {record['body'][:80]}")
        failures.append({"itemIdentifier": record["messageId"]})
    print(f"processed {processed} of {len(event['Records'])} messages")
    return {"batchItemFailures": failures}
