"""Inspect or redrive the delivery dead-letter queue.

    scripts/dlq.py inspect                      what is there: event, user, attempts, last error
    scripts/dlq.py redrive --event EVENT_ID     that event back to PENDING, due now
    scripts/dlq.py redrive --all                every FAILED event in the DLQ

Reads the same environment as the Lambdas: DATABASE_URL (default: the embedded database of
`make run`), DLQ_URL and LEDGER_TABLE (default: looked up by name; on the local stack, the
names `make run` gives this checkout's, after LOCAL_DIR), AWS_ENDPOINT_URL (the local
emulator, e.g. http://127.0.0.1:4566) and AWS_REGION.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from uuid import UUID

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.adapters.clock import SystemClock
from chalicelib.bootstrap import Container
from chalicelib.handlers import QUEUE_NAME
from chalicelib.ports import Clock
from chalicelib.services import dlq
from chalicelib.settings import Settings


def container(clock: Clock | None = None) -> Container:
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        from scripts.migrate import database_url

        env["DATABASE_URL"] = database_url()
    queue = QUEUE_NAME
    if env.get("STAGE", "local") == "local":
        from scripts.devstack.aws import local_names
        from scripts.devstack.paths import local_dir

        names = local_names(local_dir(env))
        queue = names.queue
        env.setdefault("LEDGER_TABLE", names.ledger_table)
    c = Container(Settings.from_env(env), clock or SystemClock())
    if not c.settings.dlq_url:
        from chalicelib.adapters.sqs import SqsQueue

        url = c.sqs.get_queue_url(QueueName=f"{queue}-dlq")["QueueUrl"]
        c.use(dlq=SqsQueue(c.sqs, url))
    return c


def main(argv: list[str] | None = None, clock: Clock | None = None) -> int:
    """`clock` lets tests run the tool on their own timeline."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("inspect")
    redrive = sub.add_parser("redrive")
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("--event", type=UUID)
    which.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    c = container(clock)
    try:
        if args.command == "inspect":
            entries = dlq.inspect(c.dlq, c.db, c.ledger)
            for entry in entries:
                print(json.dumps(entry.as_json()))
            print(f"{len(entries)} message(s) in the DLQ", file=sys.stderr)
        else:
            results = dlq.redrive(c.dlq, c.db, c.clock, None if args.all else args.event)
            for r in results:
                print(json.dumps({"messageId": r.message_id, "eventId": str(r.event_id), "result": r.result}))
            if not results:
                print("nothing to redrive", file=sys.stderr)
    finally:
        c.db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
