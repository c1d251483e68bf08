"""A simulated year of schedules (scripts/simulate.py, as users run it): with a 30 % webhook
failure rate and two downtimes, every occurrence the preview promises is delivered exactly
once, each first attempt at its minute (or when the pipeline resumed), nothing else.

The expected occurrences are the preview's (the planner the API answers GET
/schedules/{id}/occurrences with), and a few are pinned by hand below.
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

from chalicelib.domain.planner import DstPolicy, Gap, Overlap, Rule, occurrences
from chalicelib.domain.recurrence import InvalidDate, parse
from tests.conftest import PostgresServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# The run ends hours after the last promised occurrence, so its retries finish inside it.
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, 12, tzinfo=UTC)
# Shorter than MAX_EVENT_AGE (7 days): everything due inside is delivered late, none skipped.
DOWNTIME = [(datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, 6, tzinfo=UTC)),
            (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))]  # fmt: skip


def schedule(event_type: str, start: str, at: str, **more: Any) -> dict[str, Any]:
    return {"eventType": event_type, "start": start, "time": at, "payload": {"kind": event_type}} | more


USERS = [
    {
        "ref": "nyc",
        "firstName": "Nia",
        "lastName": "York",
        "dateOfBirth": "1990-06-15",
        "timezone": "America/New_York",
        "schedules": [
            schedule("digest.weekly", "2026-01-01", "08:00", recurrence="FREQ=WEEKLY;BYDAY=MO"),
            schedule("trial.ending", "2026-02-06", "10:00"),  # 3 days before a trial ends on the 9th
            schedule("overlap.second", "2026-10-30", "01:30", recurrence="FREQ=DAILY;COUNT=4",
                     dst={"overlap": "second"}),
        ],
    },
    {
        "ref": "tyo",
        "firstName": "Taro",
        "lastName": "Kyo",
        "dateOfBirth": "1985-03-01",
        "timezone": "Asia/Tokyo",
        "schedules": [
            schedule("invoice.monthly", "2026-01-01", "09:00", recurrence="FREQ=MONTHLY;BYMONTHDAY=31",
                     invalidDate="backward"),
        ],
    },
    {
        "ref": "ber",
        "firstName": "Bea",
        "lastName": "Lin",
        "dateOfBirth": "1980-10-25",
        "timezone": "Europe/Berlin",
        "schedules": [
            schedule("nightly", "2026-03-20", "02:30", recurrence="FREQ=DAILY;UNTIL=20260410",
                     dst={"gap": "skip"}),
            schedule("leap.day", "2024-02-29", "12:00", recurrence="FREQ=YEARLY", invalidDate="forward",
                     timezone="UTC"),
        ],
    },
    {
        "ref": "syd",
        "firstName": "Syd",
        "lastName": "Ney",
        "dateOfBirth": "1992-01-15",
        "timezone": "Australia/Sydney",
        "schedules": [
            schedule("close.month", "2026-01-01", "17:30",
                     recurrence="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=5"),
        ],
    },
]  # fmt: skip
BIRTHDAYS = ("nyc", "tyo", "ber", "syd")


def rule_of(body: dict[str, Any]) -> Rule:
    dst = body.get("dst", {})
    return Rule(
        date.fromisoformat(body["start"]),
        time.fromisoformat(body["time"]),
        parse(body["recurrence"]) if body.get("recurrence") else None,
        InvalidDate(body.get("invalidDate", "omit")),
        DstPolicy(Gap(dst.get("gap", "shift")), Overlap(dst.get("overlap", "first"))),
    )


def promised() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(ref, eventType) -> [(local date, target UTC)], from creation at START to END."""
    found = {}
    for user in USERS:
        for body in user["schedules"]:
            zone = body.get("timezone") or user["timezone"]
            planned = occurrences(rule_of(body), zone, START, limit=1000, until=END)
            found[(user["ref"], body["eventType"])] = [
                (o.local_date.isoformat(), o.target_utc.isoformat().replace("+00:00", "Z")) for o in planned
            ]
    return found


@pytest.fixture(scope="module")
def report(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("simulate-schedules")
    (tmp / "users.json").write_text(json.dumps(USERS))
    command = [
        sys.executable,
        "scripts/simulate.py",
        *("--users", str(tmp / "users.json"), "--out", str(tmp / "report.json")),
        *("--start", START.isoformat(), "--end", END.isoformat()),
        *("--webhook-failure-rate", "0.3", "--seed", "20", "--aws", "memory"),
        *(arg for a, b in DOWNTIME for arg in ("--downtime", f"{a.isoformat()}/{b.isoformat()}")),
    ]
    env = os.environ | {"DATABASE_URL": pg_server.admin_url}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    loaded: dict[str, Any] = json.loads((tmp / "report.json").read_text())
    return loaded


def test_every_promised_occurrence_once_and_nothing_else(report: dict[str, Any]) -> None:
    deliveries, stats = report["deliveries"], report["stats"]
    assert stats["duplicates"] == stats["invalidSignatures"] == 0
    assert stats["failedAttempts"] > 0, "the seed should make the receiver refuse some requests"
    got: dict[tuple[str, str], list[tuple[str, str]]] = {}
    birthdays = []
    for d in deliveries:
        if d["scheduleId"] is None:
            birthdays.append((d["ref"], d["eventType"]))
            continue
        assert d["payload"] == {"kind": d["eventType"]}
        got.setdefault((d["ref"], d["eventType"]), []).append((d["occurrence"]["localDate"], d["targetUtc"]))
    promise = promised()
    assert {k: sorted(v) for k, v in got.items()} == {k: v for k, v in promise.items() if v}
    assert sorted(birthdays) == sorted((ref, "birthday") for ref in BIRTHDAYS)  # beside them, as ever
    keys = Counter(d["idempotencyKey"] for d in deliveries)
    assert max(keys.values()) == 1


def test_a_few_promises_by_hand(report: dict[str, Any]) -> None:
    promise = promised()
    # Mondays at 08:00 in New York: EST (-5) until 8 March, EDT (-4) after.
    assert promise[("nyc", "digest.weekly")][:1] == [("2026-01-05", "2026-01-05T13:00:00Z")]
    assert ("2026-03-09", "2026-03-09T12:00:00Z") in promise[("nyc", "digest.weekly")]
    assert promise[("nyc", "trial.ending")] == [("2026-02-06", "2026-02-06T15:00:00Z")]
    # 01:30 on 1 November happens twice in New York: the second is 06:30 UTC (EST).
    assert promise[("nyc", "overlap.second")][2] == ("2026-11-01", "2026-11-01T06:30:00Z")
    # The 31st in Tokyo (+9), backward: 28 February, 30 April...
    assert promise[("tyo", "invoice.monthly")][:4] == [
        ("2026-01-31", "2026-01-31T00:00:00Z"),
        ("2026-02-28", "2026-02-28T00:00:00Z"),
        ("2026-03-31", "2026-03-31T00:00:00Z"),
        ("2026-04-30", "2026-04-30T00:00:00Z"),
    ]
    # 02:30 does not exist in Berlin on 29 March: skipped, the nights around it kept.
    nights = [d for d, _ in promise[("ber", "nightly")]]
    assert "2026-03-29" not in nights
    assert {"2026-03-28", "2026-03-30"} <= set(nights)
    assert promise[("ber", "leap.day")] == [("2026-03-01", "2026-03-01T12:00:00Z")]
    # The last weekday of the month in Sydney, five times (31 January is a Saturday).
    assert [d for d, _ in promise[("syd", "close.month")]] == [
        "2026-01-30",
        "2026-02-27",
        "2026-03-31",
        "2026-04-30",
        "2026-05-29",
    ]


def test_each_first_attempt_at_its_minute_or_when_the_pipeline_resumed(report: dict[str, Any]) -> None:
    rejected: dict[str, list[str]] = {}
    for attempt in report["stats"]["rejected"]:
        rejected.setdefault(attempt["idempotencyKey"], []).append(attempt["at"])
    for d in report["deliveries"]:
        target = datetime.fromisoformat(d["targetUtc"].replace("Z", "+00:00"))
        first = min([d["deliveredAt"], *rejected.get(d["idempotencyKey"], [])])
        down = next((end for start, end in DOWNTIME if start <= target < end), None)
        if down is None:
            assert first == d["targetUtc"], d
            late_from = (target + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
            assert d["late"] is (d["deliveredAt"] > late_from), d
        else:
            assert first >= down.isoformat().replace("+00:00", "Z"), d
            assert d["late"] is True, d
