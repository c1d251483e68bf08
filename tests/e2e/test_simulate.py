"""scripts/simulate.py as users run it (a subprocess), over a small set of awkward users.

Every expected instant below was worked out by hand from the zone rules (offsets, DST dates)
and the time-semantics contract, not by calling the code under test; the comment on each
line says how. Three runs at once, each on a fresh database of the session's server:
- A (memory) and B (moto), the same arguments: birthdays at 02:30 local (inside DST gaps and
  overlaps), 29 February on 1 March, a 30 % webhook failure rate, two downtime windows;
- C (memory): 01:30 local (inside DST overlaps), 29 February on 28 February;
- D (memory): A's arguments with the schedule firing 45 s into each minute: the sweep looks
  ahead and each message waits in the queue for its target, so every first attempt is still at
  its target second; only recovery after a downtime waits for the first firing after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from chalicelib.domain.events import idempotency_key
from tests.conftest import PostgresServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
START, END = "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z"
DOWNTIME = ["2026-05-01T00:00:00Z/2026-05-03T12:00:30Z", "2026-08-01T00:00:00Z/2026-08-10T00:00:00Z"]
FAILURE_RATE = "0.3"
# The worker's backoff without jitter: half of a step that doubles from 10 s, capped at 15 min.
WAITS = [5, 10, 20, 40, 80, 160, 320, 450, 450]


def user(ref: str, born: str, zone: str, **more: Any) -> dict[str, Any]:
    return {
        "ref": ref,
        "firstName": ref.title(),
        "lastName": "Test",
        "dateOfBirth": born,
        "timezone": zone,
    } | more


A_USERS = [
    user("ktm", "1990-01-20", "Asia/Kathmandu", externalId="crm-ktm", metadata={"channel": "email"}),
    user("stj-gap", "1985-03-08", "America/St_Johns"),
    user("stj-summer", "1985-07-01", "America/St_Johns"),
    user("lhi-summer", "1970-01-15", "Australia/Lord_Howe"),
    user("lhi-winter", "1970-07-15", "Australia/Lord_Howe"),
    user("nyc-gap", "1990-03-08", "America/New_York"),
    user("ber-overlap", "1980-10-25", "Europe/Berlin"),
    user("ber-gap", "1980-03-29", "Europe/Berlin"),
    user("leap", "1992-02-29", "America/Sao_Paulo"),
    user(
        "kol",
        "1988-11-30",
        "Asia/Kolkata",
        anniversaryDate="2015-06-10",
        externalId="crm-kol",
        metadata={"channel": "push", "locale": "hi-IN", "tags": ["vip"]},
    ),
    user("down-late", "1990-05-02", "UTC"),
    user("down-skipped", "1990-08-02", "UTC"),
    user("down-recovered", "1990-08-05", "Asia/Tokyo"),
    user("after-end", "1990-12-31", "UTC"),
]
# (ref, event type, local occurrence date, target UTC, when the first attempt is made if not
# at the target)
A_EXPECTED = [
    ("ktm", "birthday", "2026-01-20", "2026-01-19T20:45:00Z", None),  # 02:30 at +05:45
    (
        "stj-gap",
        "birthday",
        "2026-03-08",
        "2026-03-08T06:00:00Z",
        None,
    ),  # 02:30 skipped (NST -03:30 -> NDT): 03:30 NDT
    ("stj-summer", "birthday", "2026-07-01", "2026-07-01T05:00:00Z", None),  # 02:30 at NDT -02:30
    ("lhi-summer", "birthday", "2026-01-15", "2026-01-14T15:30:00Z", None),  # 02:30 at +11 (DST)
    ("lhi-winter", "birthday", "2026-07-15", "2026-07-14T16:00:00Z", None),  # 02:30 at +10:30
    ("nyc-gap", "birthday", "2026-03-08", "2026-03-08T07:30:00Z", None),  # 02:30 skipped: 03:30 EDT
    ("ber-overlap", "birthday", "2026-10-25", "2026-10-25T00:30:00Z", None),  # 02:30 twice: first, CEST +2
    ("ber-gap", "birthday", "2026-03-29", "2026-03-29T01:30:00Z", None),  # 02:30 skipped: 03:30 CEST
    ("leap", "birthday", "2026-03-01", "2026-03-01T05:30:00Z", None),  # 29 Feb -> 1 Mar, 02:30 at -03
    ("kol", "anniversary", "2026-06-10", "2026-06-10T03:30:00Z", None),  # 09:00 (not overridden) at +05:30
    ("kol", "birthday", "2026-11-30", "2026-11-29T21:00:00Z", None),  # 02:30 at +05:30
    # Due in the first downtime; resumes at 12:00:30, swept at the next minute: late.
    ("down-late", "birthday", "2026-05-02", "2026-05-02T02:30:00Z", "2026-05-03T12:01:00Z"),
    # Due in the second downtime, 5 days before it ends (< MAX_EVENT_AGE 7d): late.
    ("down-recovered", "birthday", "2026-08-05", "2026-08-04T17:30:00Z", "2026-08-10T00:00:00Z"),
    # down-skipped: due 2026-08-02T02:30Z, 7 d 21.5 h before the downtime ends: skipped, not sent.
    # after-end: due 2026-12-31T02:30Z, after --end.
]

# The schedule fires at :45: recovery after each downtime waits for the first firing after it.
D_EXPECTED = [
    (*row[:4], {"down-late": "2026-05-03T12:00:45Z", "down-recovered": "2026-08-10T00:00:45Z"}.get(row[0]))
    for row in A_EXPECTED
]

C_USERS = [
    user("leap", "1992-02-29", "America/Sao_Paulo"),
    user("leap-anniversary", "1990-06-01", "UTC", anniversaryDate="2016-02-29"),
    user("nyc-overlap", "1990-11-01", "America/New_York"),
    user("lhi-overlap", "1970-04-05", "Australia/Lord_Howe"),
]
C_EXPECTED = [
    ("leap", "birthday", "2026-02-28", "2026-02-28T04:30:00Z", None),  # 29 Feb -> 28 Feb, 01:30 at -03
    ("leap-anniversary", "anniversary", "2026-02-28", "2026-02-28T09:00:00Z", None),  # 09:00 at UTC
    ("leap-anniversary", "birthday", "2026-06-01", "2026-06-01T01:30:00Z", None),
    ("nyc-overlap", "birthday", "2026-11-01", "2026-11-01T05:30:00Z", None),  # 01:30 twice: first, EDT -4
    ("lhi-overlap", "birthday", "2026-04-05", "2026-04-04T14:30:00Z", None),  # 01:30 twice: first, +11
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def start_run(tmp: Path, name: str, users: list[dict[str, Any]], db: PostgresServer, *args: str) -> Any:
    users_file = tmp / f"{name}-users.json"
    users_file.write_text(json.dumps(users))
    command = [
        sys.executable,
        "scripts/simulate.py",
        *("--users", str(users_file), "--start", START, "--end", END, "--out", str(tmp / f"{name}.json")),
        *args,
    ]
    env = os.environ | {"DATABASE_URL": db.admin_url}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def reports(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("simulate")
    a_args = ["--delivery-time", "02:30", "--leap-day", "mar1", "--webhook-failure-rate", FAILURE_RATE]
    a_args += ["--seed", "11"] + [arg for window in DOWNTIME for arg in ("--downtime", window)]
    runs = {
        "A": start_run(tmp, "A", A_USERS, pg_server, *a_args, "--aws", "memory"),
        "B": start_run(tmp, "B", A_USERS, pg_server, *a_args, "--aws", "moto"),
        "C": start_run(
            tmp, "C", C_USERS, pg_server, "--delivery-time", "01:30", "--leap-day", "feb28", "--aws", "memory"
        ),
        "D": start_run(tmp, "D", A_USERS, pg_server, *a_args, "--aws", "memory", "--sweep-phase", "45"),
    }
    # Every run is waited for (and its pipes closed) before any is judged: one failed run must
    # not leave the others' pipes to be garbage-collected, as warnings, in a later test.
    outputs = {name: process.communicate(timeout=180) for name, process in runs.items()}
    for name, (out, err) in outputs.items():
        assert runs[name].returncode == 0, f"run {name}: {err}\n{out}"
    return {name: json.loads((tmp / f"{name}.json").read_text()) for name in runs}


def check(report: dict[str, Any], users: list[dict[str, Any]], expected: list[tuple[Any, ...]]) -> None:
    deliveries, stats = report["deliveries"], report["stats"]
    names = {u["ref"]: f"{u['firstName']} {u['lastName']}" for u in users}
    theirs = {u["ref"]: (u.get("externalId"), u.get("metadata")) for u in users}
    rejected: dict[str, list[str]] = {}
    for attempt in stats["rejected"]:
        assert attempt["status"] == 503
        rejected.setdefault(attempt["idempotencyKey"], []).append(attempt["at"])

    got = {(d["ref"], d["eventType"]): d for d in deliveries}
    assert len(got) == len(deliveries), "an occurrence was delivered twice"
    assert sorted(got) == sorted((ref, kind) for ref, kind, *_ in expected), (
        "missing or unexpected deliveries"
    )
    for ref, kind, local_date, target, resumes in expected:
        d = got[(ref, kind)]
        assert d["targetUtc"] == target, (ref, kind)
        # The first attempt at the target (or when the pipeline resumed), each retry after its wait.
        first = at(resumes or target)
        attempts = [
            first + timedelta(seconds=sum(WAITS[:n]))
            for n in range(len(rejected.get(d["idempotencyKey"], [])) + 1)
        ]
        assert rejected.get(d["idempotencyKey"], []) == [iso(t) for t in attempts[:-1]], (ref, kind)
        assert d["deliveredAt"] == iso(attempts[-1]), (ref, kind)
        assert d["late"] is (resumes is not None), (ref, kind)
        assert d["idempotencyKey"] == idempotency_key(UUID(d["userId"]), kind, date.fromisoformat(local_date))
        greeting = "it's your birthday" if kind == "birthday" else "happy anniversary"
        assert d["message"] == f"Hey, {names[ref]} {greeting}"
        assert (d["externalId"], d["metadata"]) == theirs[ref], (ref, kind)  # the webhook body's
    delivered_at = [at(d["deliveredAt"]) for d in deliveries]
    assert delivered_at == sorted(delivered_at), "deliveries are listed in the order they arrived"
    assert set(rejected) <= {d["idempotencyKey"] for d in deliveries}, (
        "a failed occurrence was never delivered"
    )
    assert stats["users"] == len(users)
    assert stats["deliveries"] == stats["distinctKeys"] == len(expected)
    assert stats["duplicates"] == stats["invalidSignatures"] == 0
    assert stats["failedAttempts"] == len(stats["rejected"])
    assert stats["late"] == sum(1 for *_, resumes in expected if resumes)
    on_time = [at(d["deliveredAt"]) - at(d["targetUtc"]) for d in deliveries if not d["late"]]
    assert stats["latenessMax"] == max(on_time).total_seconds()  # no target fell inside a downtime


def test_every_delivery_at_its_minute_with_failures_and_downtime(reports: dict[str, Any]) -> None:
    report = reports["A"]
    check(report, A_USERS, A_EXPECTED)
    assert report["stats"]["failedAttempts"] > 0, "the seed should make the receiver refuse some requests"
    assert report["stats"]["eventsAtEnd"]["birthday"]["SKIPPED"] == 1  # down-skipped


def test_moto_gives_the_same_deliveries_as_memory(reports: dict[str, Any]) -> None:
    check(reports["B"], A_USERS, A_EXPECTED)

    def comparable(report: dict[str, Any]) -> list[tuple[Any, ...]]:
        keys = {d["idempotencyKey"]: (d["ref"], d["eventType"]) for d in report["deliveries"]}
        ok = [
            (d["ref"], d["eventType"], d["targetUtc"], d["deliveredAt"], d["late"])
            for d in report["deliveries"]
        ]
        failed = [(*keys[r["idempotencyKey"]], r["at"]) for r in report["stats"]["rejected"]]
        return sorted(ok) + sorted(failed)

    assert reports["B"]["stats"]["aws"] == "moto"
    assert comparable(reports["B"]) == comparable(reports["A"])


def test_a_sweep_that_fires_45_s_into_each_minute_still_attempts_each_event_at_its_target(
    reports: dict[str, Any],
) -> None:
    report = reports["D"]
    check(report, A_USERS, D_EXPECTED)
    assert report["stats"]["sweepPhase"] == 45
    assert report["stats"]["eventsAtEnd"]["birthday"]["SKIPPED"] == 1
    assert report["stats"]["failedAttempts"] == reports["A"]["stats"]["failedAttempts"]


def test_leap_day_on_28_february_and_overlaps_at_0130(reports: dict[str, Any]) -> None:
    check(reports["C"], C_USERS, C_EXPECTED)
    assert reports["C"]["stats"]["failedAttempts"] == 0
