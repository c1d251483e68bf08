"""Users per second through POST /user/import: the real API over HTTP and the real PostgreSQL.

    scripts/bench_import.py [--users 100000] [--chunk 1000] [--port 0]

A fresh database (embedded PostgreSQL unless DATABASE_URL is set, migrated), `chalice local`
serving the app in its own process (the authorizer and a real token included), and
scripts/import_users.py sending a CSV of N users (sample_users' mix of zones, 1 in 10 with an
anniversary, each with an externalId and a small metadata object) in its own process, as a
team would run it. Then the same file again (`--restart`: every user comes back "unchanged",
what re-sending after an interruption costs). Every run is checked: N users, one event per
user and type in PostgreSQL, no duplicate externalId. CPU seconds are read from /proc for the
API process, the PostgreSQL backends serving it and the script; cpuBoundUsersPerSecond is N
over their sum, what one core per process would give on a quiet machine (the figure to compare
when the machine is shared and wallSeconds mostly measures waiting for a core).

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path: the project root goes there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import contextlib
import csv
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import psycopg
import requests

from chalicelib.settings import LOCAL_JWT_SECRET
from scripts.devstack import aws, sample_users
from scripts.devstack.paths import ROOT
from scripts.devstack.postgres import fresh_database

COLUMNS = ["externalId", "firstName", "lastName", "dateOfBirth", "timezone", "anniversaryDate", "metadata"]


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(COLUMNS)
        for i, user in enumerate(sample_users.users(count, seed=7)):
            metadata = json.dumps({"crmId": f"C{i:07d}", "plan": ("free", "pro")[i % 2], "locale": "en-GB"})
            names = [user["firstName"], user["lastName"]]
            rest = [user["dateOfBirth"], user["timezone"], user.get("anniversaryDate", ""), metadata]
            out.writerow([f"crm-{i:07d}", *names, *rest])


@contextlib.contextmanager
def chalice_local(database_url: str, port: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = {**os.environ, "STAGE": "local", "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    env["POWERTOOLS_METRICS_DISABLED"] = "true"
    command = [str(Path(sys.executable).parent / "chalice"), "local", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--stage", "local", "--no-autoreload"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chalice local exited ({process.returncode}); see {log}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"chalice local did not answer; see {log}")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving the API (its pool's connections), by their database."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            b"SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def backends_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids if Path(f"/proc/{pid}").exists())


def import_file(path: Path, url: str, chunk: int, *extra: str) -> tuple[float, dict[str, Any], float]:
    now = int(time.time())
    claims = {"sub": "bench-import", "roles": ["service"], "iat": now, "exp": now + 3600}
    token = jwt.encode(claims, LOCAL_JWT_SECRET, algorithm="HS256")
    command = [sys.executable, str(ROOT / "scripts" / "import_users.py"), str(path), "--url", url]
    command += ["--chunk", str(chunk), "--quiet", *extra]
    started = time.perf_counter()
    result = subprocess.run(
        command, env={**os.environ, "TOKEN": token}, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"import_users.py exited {result.returncode}: {result.stderr[-2000:]}")
    children = os.times()
    return (
        wall,
        json.loads(result.stdout.strip().splitlines()[-1]),
        children.children_user + children.children_system,
    )


def check(database_url: str, count: int) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        users, distinct, events, expected = conn.execute(
            b"SELECT (SELECT count(*) FROM users), (SELECT count(DISTINCT external_id) FROM users),"
            b" (SELECT count(*) FROM events),"
            b" (SELECT count(*) + count(anniversary_date) FROM users)"
        ).fetchone() or (0, 0, 0, 0)
    if not users == distinct == count or events != expected:
        raise RuntimeError(
            f"expected {count} users and {expected} events, found {users} ({distinct}), {events}"
        )
    return {"users": users, "events": events}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0, help="chalice local's port; 0 picks a free one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp, fresh_database("bench_import") as db:
        path = Path(tmp) / "users.csv"
        write_csv(path, args.users)
        with chalice_local(db, args.port or aws.free_port(), Path(tmp) / "api.log") as (url, api):
            api_cpu = cpu_seconds(api.pid)
            pids = backend_pids(db)
            pg_cpu = backends_cpu(pids)
            wall, summary, client_cpu = import_file(path, url, args.chunk)
            api_cpu_first = cpu_seconds(api.pid) - api_cpu
            pg_cpu_first = backends_cpu(pids) - pg_cpu
            found = check(db, args.users)
            again_wall, again, client_cpu_both = import_file(path, url, args.chunk, "--restart")
            check(db, args.users)
        if summary["created"] != args.users or again["unchanged"] != args.users:
            raise RuntimeError(f"unexpected results: {summary} then {again}")
        figures = {
            "users": args.users,
            "chunk": args.chunk,
            "events": found["events"],
            "wallSeconds": round(wall, 2),
            "usersPerSecond": round(args.users / wall),
            "resendWallSeconds": round(again_wall, 2),
            "resendUsersPerSecond": round(args.users / again_wall),
            "apiCpuSecondsFirstRun": round(api_cpu_first, 2),
            "clientCpuSecondsFirstRun": round(client_cpu, 2),
            "postgresCpuSecondsFirstRun": round(pg_cpu_first, 2),
            "cpuBoundUsersPerSecond": round(args.users / (api_cpu_first + client_cpu + pg_cpu_first)),
            "clientCpuSecondsBothRuns": round(client_cpu_both, 2),
            "csvBytes": path.stat().st_size,
        }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
