"""Apply or roll back the schema migrations.

    scripts/migrate.py up [--to VERSION]     apply what is missing (safe to run twice)
    scripts/migrate.py down [--steps N]      revert the newest N (default 1)
    scripts/migrate.py status                list applied and pending

The database is DATABASE_URL, or the embedded one `make run` keeps in .local/pgdata.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from chalicelib.adapters import migrations
from scripts.devstack import migrations as schema_tools


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from scripts.devstack.paths import PGDATA
    from scripts.devstack.postgres import EmbeddedPostgres

    return EmbeddedPostgres(PGDATA).url()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--to", type=int, default=None)
    down = sub.add_parser("down")
    down.add_argument("--steps", type=int, default=1)
    sub.add_parser("status")
    args = parser.parse_args(argv)
    url = database_url()
    if args.command == "up":
        for m in migrations.upgrade(url, args.to):
            print(f"applied {m.version:04d}_{m.name}")
    elif args.command == "down":
        for m in schema_tools.downgrade(url, args.steps):
            print(f"reverted {m.version:04d}_{m.name}")
    else:
        with psycopg.connect(url) as conn:
            done = set(migrations.applied(conn))
        for m in migrations.available():
            print(f"{m.version:04d}_{m.name}: {'applied' if m.version in done else 'pending'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
