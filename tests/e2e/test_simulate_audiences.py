"""A simulated month of audience schedules (scripts/simulate.py --schedules, as users run it):
users in zones around the world, a 30 % webhook failure rate and a downtime; each member
receives each occurrence exactly once, the first attempt at their local minute (or when the
pipeline resumed), and nobody else receives anything.

What is expected comes from the planner in each user's zone, never before the schedules were
created (at START).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.planner import Rule, occurrences
from chalicelib.domain.recurrence import parse
from tests.conftest import PostgresServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
START, END = datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 4, 1, 12, tzinfo=UTC)
DOWNTIME = [(datetime(2026, 3, 14, tzinfo=UTC), datetime(2026, 3, 15, 6, tzinfo=UTC))]
ZONES = {
    "akl": "Pacific/Auckland",
    "tyo": "Asia/Tokyo",
    "ktm": "Asia/Kathmandu",
    "lon": "Europe/London",
    "nyc": "America/New_York",
    "lax": "America/Los_Angeles",
    "hnl": "Pacific/Honolulu",
    "pago": "Pacific/Pago_Pago",
}
PRO = {"akl", "lon", "lax"}
SCHEDULES = [
    {"eventType": "digest", "start": "2026-03-01", "time": "08:00", "recurrence": "FREQ=DAILY",
     "audience": {"all": True}},
    {"eventType": "invoice", "start": "2026-03-01", "time": "02:30", "recurrence": "FREQ=WEEKLY;BYDAY=SU",
     "audience": {"metadata": {"plan": "pro"}}},
]  # fmt: skip
USERS = [
    {"ref": ref, "firstName": "A", "lastName": ref, "dateOfBirth": "1990-06-15", "timezone": zone,
     "metadata": {"plan": "pro" if ref in PRO else "free"}}
    for ref, zone in ZONES.items()
]  # fmt: skip


def promised() -> Counter[tuple[str, str, str]]:
    """(ref, eventType, localDate) of every occurrence a member should get by END."""
    found: Counter[tuple[str, str, str]] = Counter()
    for body in SCHEDULES:
        hour, minute = map(int, body["time"].split(":"))
        rule = Rule(date.fromisoformat(body["start"]), time(hour, minute), parse(body["recurrence"]))
        for ref, zone in ZONES.items():
            if "metadata" in body["audience"] and ref not in PRO:
                continue
            for o in occurrences(rule, zone, START, limit=100, until=END - timedelta(hours=6)):
                found[(ref, body["eventType"], o.local_date.isoformat())] += 1
    return found


@pytest.fixture(scope="module")
def report(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("simulate-audiences")
    (tmp / "users.json").write_text(json.dumps(USERS))
    (tmp / "schedules.json").write_text(json.dumps({"schedules": SCHEDULES}))
    command = [
        sys.executable,
        "scripts/simulate.py",
        *("--users", str(tmp / "users.json"), "--schedules", str(tmp / "schedules.json")),
        *("--out", str(tmp / "report.json"), "--start", START.isoformat(), "--end", END.isoformat()),
        *("--webhook-failure-rate", "0.3", "--seed", "21", "--aws", "memory"),
        *(arg for a, b in DOWNTIME for arg in ("--downtime", f"{a.isoformat()}/{b.isoformat()}")),
    ]
    env = os.environ | {"DATABASE_URL": pg_server.admin_url}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    loaded: dict[str, Any] = json.loads((tmp / "report.json").read_text())
    return loaded


def test_each_member_gets_each_occurrence_once_and_nobody_else_anything(report: dict[str, Any]) -> None:
    got = Counter(
        (d["ref"], d["eventType"], d["occurrence"]["localDate"])
        for d in report["deliveries"]
        if d["eventType"] in ("digest", "invoice")
    )
    expected = promised()
    late_tail = {k for k in got if k not in expected}  # delivered after END - 6 h: still one each
    assert all(got[k] == 1 for k in late_tail)
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert report["stats"]["duplicates"] == 0


def test_each_first_attempt_at_the_members_local_minute_or_when_the_pipeline_resumed(
    report: dict[str, Any],
) -> None:
    rejected: dict[str, list[str]] = {}
    for attempt in report["stats"]["rejected"]:
        rejected.setdefault(attempt["idempotencyKey"], []).append(attempt["at"])
    for d in report["deliveries"]:
        local = datetime.fromisoformat(d["occurrence"]["targetLocal"])
        assert local.strftime("%H:%M") in ("08:00", "02:30", "03:30"), d  # 03:30: a DST gap's shift
        target = datetime.fromisoformat(d["targetUtc"].replace("Z", "+00:00"))
        first = min([d["deliveredAt"], *rejected.get(d["idempotencyKey"], [])])
        down = next((end for start, end in DOWNTIME if start <= target < end), None)
        if down is None:
            assert first == d["targetUtc"], d
        else:
            assert first >= down.isoformat().replace("+00:00", "Z"), d
