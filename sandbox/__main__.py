"""``python -m sandbox [--host H] [--port N] [--retry-delays 1,2] [--no-seed]``, without Django."""

import argparse
import sys

from sandbox.server import parse_retry_delays, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--retry-delays", default="1,2", help="seconds between async retries")
    parser.add_argument("--no-seed", action="store_true", help="skip the sample functions")
    args = parser.parse_args(argv)
    try:
        delays = parse_retry_delays(args.retry_delays)
    except ValueError as exc:
        parser.error(str(exc))
    return run(args.host, args.port, retry_delays=delays, seed=not args.no_seed)


if __name__ == "__main__":
    sys.exit(main())
