"""Prints well over 4 KB, so the log tail starts mid-log."""


def lambda_handler(event, context):
    lines = event.get("lines", 200) if isinstance(event, dict) else 200
    for number in range(1, lines + 1):
        print(f"chatty line {number:04d}: " + "lorem ipsum " * 4)
    return {"lines": lines}
