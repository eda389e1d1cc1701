"""``python -m sandbox [--host H] [--port N] [--retry-delays 1,2] [--no-seed] [--latency-ms 0]
[--enforce-iam]
[--scale N] [--aws-quotas]``,
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
    parser.add_argument(
        "--scale", type=int, default=0, help="seed N×10 more functions (an account N× the demo)"
    )
    parser.add_argument(
        "--aws-quotas", action="store_true", help="refuse calls past AWS's request quotas"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.scale <= 200:
        parser.error(f"--scale must be between 0 and 200, not {args.scale}")
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
        scale=args.scale,
        aws_quotas=args.aws_quotas,
    )


if __name__ == "__main__":
    sys.exit(main())
