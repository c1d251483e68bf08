"""The local emulator's speed with and without make run's journal (scripts/devstack/durable_moto.py).

Per round, against a fresh server of each kind: `--messages` messages sent in batches of 10,
received 10 at a time and deleted one by one (the worker's pattern), and two ledger writes per
message (an attempt and a conditional success). Prints calls/s per kind (the median of
`--repeat` rounds, kinds interleaved), one JSON line last.

    .venv/bin/python scripts/bench_emulator.py [--messages 500] [--repeat 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file: the root is not on sys.path

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

from chalicelib.adapters import sqs
from chalicelib.adapters.ledger import DynamoLedger
from chalicelib.ports import Attempt
from scripts.devstack import aws


def one_round(journal: Path | None, messages: int) -> float:
    server = aws.MotoServerProcess("127.0.0.1", aws.free_port(), journal=journal)
    try:
        resources = aws.provision(server.endpoint, visibility_timeout=60)
        queue = sqs.SqsQueue(sqs.client("us-east-1", server.endpoint), resources.queue_url)
        ledger = DynamoLedger(resources.ledger_table, "us-east-1", server.endpoint)
        calls, started = 0, time.perf_counter()
        for _ in range(messages // 10):
            queue.send_batch([json.dumps({"n": i}) for i in range(10)])
            calls += 1
        while received := queue.receive(10, 60):
            calls += 1
            for message in received:
                attempt = Attempt(
                    uuid.uuid4(), str(uuid.uuid4()), 1, datetime.now(UTC), "success", 200, None, 1.0
                )
                ledger.record_attempt(attempt)
                ledger.record_success(attempt)
                queue.delete(message.receipt_handle)
                calls += 3
        return calls / (time.perf_counter() - started)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"memory": [], "journal": []}
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        for n in range(args.repeat):
            rates["memory"].append(one_round(None, args.messages))
            rates["journal"].append(one_round(Path(tmp) / f"aws-{n}.journal", args.messages))
            print(f"round {n + 1}: " + ", ".join(f"{k} {v[-1]:.0f} calls/s" for k, v in rates.items()))
    medians = {k: round(statistics.median(v)) for k, v in rates.items()}
    result = {"messages": args.messages, "repeat": args.repeat, "callsPerSecond": medians}
    result["journalRelative"] = round(medians["journal"] / medians["memory"], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
