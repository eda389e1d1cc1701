"""Charges an amount in cents; fails on anything else. Its OnFailure goes through EventBridge."""


def lambda_handler(event, context):
    amount = event.get("amount_cents")
    if not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount_cents must be a positive integer, got {amount!r}")
    return {"charged": amount}
