"""Bodies of the SQS messages Lambda sends, as the poller receives them."""

import json

REQUEST_ID = "6f1c0d2e-8a51-4c43-9c1b-2f6b7b1c1a11"


def destination_record(request_id=REQUEST_ID, order=-1, timestamp="2026-11-26T15:48:18.521Z"):
    """An OnFailure destination record of the `orders` function rejecting `order`."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": timestamp,
            "requestContext": {
                "requestId": request_id,
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": {"order": order},
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": f"order must be a positive integer, got {order}",
                "errorType": "ValueError",
                "stackTrace": ['  File "/var/task/lambda_function.py", line 7\n'],
            },
        }
    )
