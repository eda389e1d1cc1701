"""Never runs: its reserved concurrency is 0, so every invoke is throttled."""


def lambda_handler(event, context):
    return {"ran": True}
