"""Fed by the Kinesis stream `stream-reader-input` through an event source mapping with 2
retries, BisectBatchOnFunctionError and an OnFailure destination, the queue
`stream-reader-on-failure`. Each record's data should be a JSON object; a record that is not,
or that says `{"fail": true}`, raises, so its batch is split and retried until the bad record
is alone, then discarded with a stream-failure record (KinesisBatchInfo) sent to the queue."""

import base64
import json


def lambda_handler(event, context):
    for record in event["Records"]:
        data = base64.b64decode(record["kinesis"]["data"])
        try:
            item = json.loads(data)
        except ValueError:
            raise ValueError(f"record {record['kinesis']['sequenceNumber']} is not JSON") from None
        if not isinstance(item, dict) or item.get("fail"):
            raise ValueError(f"record {record['kinesis']['sequenceNumber']} asks to fail")
    print(f"read {len(event['Records'])} records")
    return {"records": len(event["Records"])}
