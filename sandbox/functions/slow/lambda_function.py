"""Runs past its 2 s timeout unless told to be quick: ``{"seconds": 0.1}``."""

import time


def lambda_handler(event, context):
    seconds = event.get("seconds", 5) if isinstance(event, dict) else 5
    print(f"sleeping {seconds} s with {context.get_remaining_time_in_millis()} ms left")
    time.sleep(seconds)
    return {"slept": seconds}
