"""Sends a notification, or fails when asked to: its OnFailure goes through SNS."""


def lambda_handler(event, context):
    if event.get("fail", True):
        raise ConnectionError("notification provider unavailable")
    return {"notified": event.get("to", "nobody")}
