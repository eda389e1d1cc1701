"""``python -m sandbox [--host H] [--port N] [--retry-delays 1,2] [--no-seed] [--latency-ms 0]
[--enforce-iam]``,
without Django."""

import argparse
import sys

from sandbox.server import parse_latency_ms, parse_retry_delays, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--retry-delays", default="1,2", help="seconds between async retries")
    parser.add_argument("--no-seed", action="store_true", help="skip the sample functions")
    parser.add_argument(
        "--latency-ms", default="0", help="answer every request this many milliseconds late"
    )
    parser.add_argument(
        "--enforce-iam", action="store_true", help="check IAM policies of the sandbox's IAM users"
    )
    args = parser.parse_args(argv)
    try:
        delays = parse_retry_delays(args.retry_delays)
        latency_ms = parse_latency_ms(args.latency_ms)
    except ValueError as exc:
        parser.error(str(exc))
    return run(
        args.host,
        args.port,
        retry_delays=delays,
        seed=not args.no_seed,
        latency_ms=latency_ms,
        enforce_iam=args.enforce_iam,
    )


if __name__ == "__main__":
    sys.exit(main())
