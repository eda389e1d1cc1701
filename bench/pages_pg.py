"""Page scaling on PostgreSQL: bench/pages.py (the pages people open stay as fast at 1,000,000
records as at 10,000) run again on a private PostgreSQL server (tests/postgres/server.py), the
production database. Figures are named `pages_pg_<page>_<large>_vs_<small>`, with the same
target.

Run: `.venv/bin/python -m bench pages_pg` (`BENCH_PAGES_SCALE=10` for a quick try).
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.postgres.server import private_postgres  # noqa: E402


def main() -> dict:
    with private_postgres() as database_url:
        # Read by the settings when pages.main() sets Django up, in this process only.
        os.environ["DATABASE_URL"] = database_url
        from bench import pages

        return pages.main(prefix="pages_pg")


if __name__ == "__main__":
    main()
