"""Lambda's Invoke errors that moto does not raise, rendered the way boto3 expects them
(the error code in ``X-Amzn-ErrorType``)."""

import json

from moto.awslambda.exceptions import LambdaClientError

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024  # raised from 256 KB in October 2025


class TooManyRequestsException(LambdaClientError):
    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate exceeded")
        self.description = json.dumps(
            {
                "__type": "TooManyRequestsException",
                "message": "Rate exceeded",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "Type": "User",
            }
        )


class RequestTooLargeException(LambdaClientError):
    code = 413

    def __init__(self, limit: int) -> None:
        message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
        super().__init__("RequestTooLargeException", message)


class InvalidRequestContentException(LambdaClientError):
    code = 400

    def __init__(self, reason: str) -> None:
        message = (
            f"Could not parse request body into json: Could not parse payload into json: {reason}"
        )
        super().__init__("InvalidRequestContentException", message)


class InvalidParameterValueException(LambdaClientError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


class InvalidInvocationTypeException(LambdaClientError):
    code = 400

    def __init__(self, invocation_type: str) -> None:
        message = (
            f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
            "failed to satisfy constraint: Member must satisfy enum value set: "
            "[Event, RequestResponse, DryRun]"
        )
        super().__init__("ValidationException", message)
