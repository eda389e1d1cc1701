"""A local stand-in for AWS Lambda and friends: moto's server plus a runner that executes
Python handlers in subprocesses, so invocations behave as on AWS (logs, errors, timeouts,
throttling, async retries, destinations, dead-letter queues)."""
