"""An API Gateway REST proxy handler for ``POST /login``: 200 with a token, or 401."""

import json

USERS = {"alice": "wonderland"}


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def lambda_handler(event, context):
    if event.get("httpMethod") != "POST" or event.get("path") != "/login":
        return _response(404, {"message": "Not Found"})
    try:
        credentials = json.loads(event.get("body") or "{}")
    except ValueError:
        return _response(400, {"message": "body must be JSON"})
    username = credentials.get("username")
    if USERS.get(username) is None or USERS[username] != credentials.get("password"):
        print(f"login refused for {username!r}")
        return _response(401, {"message": "Unauthorized"})
    print(f"login accepted for {username!r}")
    return _response(200, {"token": f"token-for-{username}-{context.aws_request_id[:8]}"})
