"""Validates and "processes" an order: ``{"order": 42, "items": ["book"]}``."""


def lambda_handler(event, context):
    order = event.get("order") if isinstance(event, dict) else None
    if not isinstance(order, int) or isinstance(order, bool) or order <= 0:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    items = event.get("items", [])
    print(f"processing order {order} with {len(items)} item(s)")
    return {"order": order, "status": "processed", "items": len(items)}
