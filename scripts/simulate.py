#!/usr/bin/env python3
"""Replay a period on a virtual clock through the real app, and report every delivery.

    .venv/bin/python scripts/simulate.py --users USERS.json --start ISO --end ISO --out REPORT.json
        [--delivery-time HH:MM] [--leap-day mar1|feb28] [--webhook-failure-rate F]
        [--downtime ISO/ISO]... [--seed N] [--aws moto|memory] [--sweep-phase SECONDS]
        [--schedules SCHEDULES.json]

USERS.json is a JSON array of {firstName, lastName, dateOfBirth, timezone} objects, with an
optional anniversaryDate, an optional `ref` string echoed back in the report, and optional
`schedules`: a list of POST /user/{id}/schedules bodies. The users and their schedules are
created at --start through the API; the clock then jumps from one instant with work to the
next until --end (inclusive). REPORT.json is {"deliveries": [...], "stats": {...}}: every
request the receiver accepted with a 2xx, in order, with deliveredAt in virtual time (and a
schedule's scheduleId, occurrence and payload).

SCHEDULES.json is {"schedules": [...]}: POST /schedules bodies (audience schedules, each
member at their own local time), created at --start after the users; their deliveries are
reported as a user's schedule's are, with the user's `ref`.

Exit status: 0 when the report is written, 1 when it is written but shows a duplicate
delivery or a signature the receiver could not verify, 2 for bad arguments or input.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # pgserver, on a machine without one

from chalicelib.domain.occurrence import LeapDayPolicy
from chalicelib.settings import SettingsError, parse_time
from scripts.devstack.simulation import Config, SimulationError, simulate


def instant(text: str) -> datetime:
    """ISO 8601; UTC when it names no offset."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def window(text: str) -> tuple[datetime, datetime]:
    start, sep, end = text.partition("/")
    if not sep:
        raise argparse.ArgumentTypeError(f"a downtime is START/END, not {text!r}")
    begins, ends = instant(start), instant(end)
    if ends <= begins:
        raise argparse.ArgumentTypeError(f"a downtime must end after it starts: {text!r}")
    return begins, ends


def rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a failure rate is a number from 0 to below 1, not {text!r}")
    return value


def phase(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 60:
        raise argparse.ArgumentTypeError(
            f"a sweep phase is a number of seconds from 0 to below 60, not {text!r}"
        )
    return value


def delivery_time(text: str) -> Any:
    try:
        return parse_time("--delivery-time", text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", required=True, type=Path, help="a JSON array of users")
    p.add_argument("--start", required=True, type=instant, help="ISO 8601 (UTC)")
    p.add_argument("--end", required=True, type=instant, help="ISO 8601 (UTC), inclusive")
    p.add_argument("--out", required=True, type=Path, help="where to write the report")
    p.add_argument("--delivery-time", type=delivery_time, help="birthday delivery time, HH:MM local")
    p.add_argument("--leap-day", choices=[p.value for p in LeapDayPolicy], default="mar1")
    p.add_argument("--webhook-failure-rate", type=rate, default=0.0, help="fraction answered 503")
    p.add_argument("--downtime", type=window, action="append", default=[], help="START/END; repeatable")
    p.add_argument("--schedules", type=Path, help="a JSON object whose schedules are POST /schedules bodies")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--aws", choices=["moto", "memory"], default="moto")
    p.add_argument(
        "--sweep-phase", type=phase, default=0.0, help="seconds into each minute at which the sweep fires"
    )
    return p


def load_users(path: Path) -> list[dict[str, Any]]:
    users = json.loads(path.read_text())
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise SimulationError(f"{path} must hold a JSON array of user objects")
    for position, user in enumerate(users):
        if "ref" in user and not isinstance(user["ref"], str):
            raise SimulationError(f"user #{position}: ref must be a string")
    return users


def load_schedules(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    found = json.loads(path.read_text())
    schedules = found.get("schedules") if isinstance(found, dict) else None
    if not isinstance(schedules, list) or not all(isinstance(s, dict) for s in schedules):
        raise SimulationError(f"{path} must hold a JSON object whose schedules is an array of objects")
    return schedules


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.end <= args.start:
        p.error("--end must be after --start")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # per-event log lines cost time
    try:
        config = Config(
            users=load_users(args.users),
            start=args.start,
            end=args.end,
            delivery_time=args.delivery_time,
            leap_day=LeapDayPolicy(args.leap_day),
            failure_rate=args.webhook_failure_rate,
            downtime=sorted(args.downtime),
            seed=args.seed,
            aws=args.aws,
            sweep_phase=args.sweep_phase,
            schedules=load_schedules(args.schedules),
        )
        result = simulate(config)
    except (SimulationError, OSError, ValueError) as exc:
        print(f"simulate.py: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    stats = result["stats"]
    summary = {k: v for k, v in stats.items() if k not in ("rejected", "eventsAtEnd")}
    print(json.dumps(summary))
    if stats["duplicates"] or stats["invalidSignatures"]:
        print("simulate.py: duplicate deliveries or invalid signatures; see the report", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
