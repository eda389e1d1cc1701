"""Module-level state, the way real handlers keep it: a counter and a cache built at import.

On Lambda an execution environment is reused while warm, so the module is imported once and
the counter goes 1, 2, 3 over warm invocations, while the cache answers repeated keys without
recomputing them. A new environment (a cold start, or a concurrent invocation) starts again at
1 with an empty cache. The answer says which environment served the call, so both cases can be
seen: `{"invocations": 2, "cache_hit": true, "environment": "..."}`."""

import hashlib
import os
import time
import uuid

ENVIRONMENT = uuid.uuid4().hex[:12]  # one per import, so one per execution environment
STARTED_AT = time.time()
INVOCATIONS = 0
CACHE: dict[str, str] = {}


def expensive(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def lambda_handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    key = str((event or {}).get("key", "default"))
    cache_hit = key in CACHE
    if not cache_hit:
        CACHE[key] = expensive(key)
    print(f"invocation {INVOCATIONS} of environment {ENVIRONMENT}, cache hit: {cache_hit}")
    return {
        "invocations": INVOCATIONS,
        "cache_hit": cache_hit,
        "cached_keys": len(CACHE),
        "value": CACHE[key],
        "environment": ENVIRONMENT,
        "environment_age_s": round(time.time() - STARTED_AT, 3),
        "pid": os.getpid(),
    }
