"""scripts/import_users.py against the app served over real HTTP (chalice local's server, the
authorizer included) and the real PostgreSQL: chunks, refused lines, interruption and resume."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from chalice.config import Config
from chalice.local import LocalDevServer

from app import app
from chalicelib import bootstrap
from tests.functional.test_fuzz import QuietHandler
from tests.tokens import admin_token, token_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "import_users.py"
HEADER = "externalId,firstName,lastName,dateOfBirth,timezone,anniversaryDate,metadata"


def serve(handler: type[http.server.BaseHTTPRequestHandler] | None = None) -> tuple[str, Any]:
    server = LocalDevServer(app, Config.create(), "127.0.0.1", 0, handler_cls=QuietHandler)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server.server_address[:2]
    return f"http://{host!s}:{port}", server


@pytest.fixture
def api_url(container: bootstrap.Container) -> Iterator[str]:
    url, server = serve()
    yield url
    server.shutdown()
    server.server.server_close()


def run_script(path: Path, url: str, *args: str, token: str | None = None) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(path), "--url", url, "--retries", "1", *args],
        env={**os.environ, "TOKEN": token or admin_token()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    return result.returncode, json.loads(last), result.stderr


def external_ids(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(b"SELECT external_id FROM users ORDER BY external_id").fetchall()
    return [r[0] for r in rows]


def event_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(b"SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def csv_line(n: int, **changes: str) -> str:
    values = {
        "externalId": f"crm-{n:04d}",
        "firstName": f"Person{n}",
        "lastName": "Lovelace",
        "dateOfBirth": "1990-12-10",
        "timezone": "Europe/London",
        "anniversaryDate": "",
        "metadata": "",
        **changes,
    }
    return ",".join(values[c] for c in HEADER.split(","))


def rejected(path: Path) -> list[dict[str, Any]]:
    file = path.with_name(path.name + ".rejected.jsonl")
    return [json.loads(line) for line in file.read_text().splitlines()]


def test_a_csv_with_malformed_and_invalid_lines_imports_the_rest_and_writes_the_refused(
    tmp_path: Path, api_url: str, database_url: str
) -> None:
    lines = [HEADER]
    lines += [csv_line(n) for n in range(12)]
    lines[3] = csv_line(2, metadata='"{""plan"": ""pro"", ""seats"": 3}"', anniversaryDate="2015-08-01")
    lines[5] = 'crm-0004,"unclosed,Lovelace,1990-12-10,Europe/London,,'  # malformed: an open quote
    lines[7] = "crm-0006,Person6,Lovelace,1990-12-10"  # malformed: 4 fields, the header has 7
    lines[9] = csv_line(8, timezone="Mars/Olympus")  # well-formed, refused by the API
    lines[10] = csv_line(9, metadata="{not json")  # a metadata cell that is not JSON
    lines.insert(11, "")  # blank lines are skipped
    path = tmp_path / "users.csv"
    path.write_text("\n".join(lines) + "\n")

    status, summary, stderr = run_script(path, api_url, "--chunk", "3")
    assert status == 0, stderr
    assert {k: summary[k] for k in ("created", "updated", "unchanged", "invalid", "unparsed")} == {
        "created": 8,
        "updated": 0,
        "unchanged": 0,
        "invalid": 1,
        "unparsed": 3,
    }
    assert "users/s" in stderr  # the progress bar
    refused = rejected(path)
    assert [(r["line"], r["record"]) for r in refused] == [
        (6, lines[5]),
        (8, lines[7]),
        (10, lines[9]),
        (11, lines[10]),
    ]
    assert "malformed CSV" in refused[0]["error"]["message"]
    assert "7" in refused[1]["error"]["message"]
    assert refused[2]["error"]["details"] == [
        {"field": "timezone", "message": "is not a known IANA time zone"}
    ]
    assert refused[3]["error"]["details"][0]["field"] == "metadata"
    assert external_ids(database_url) == [f"crm-{n:04d}" for n in (0, 1, 2, 3, 5, 7, 10, 11)]
    assert event_count(database_url) == 9  # crm-0002 has an anniversary too
    with psycopg.connect(database_url) as conn:
        row = conn.execute(b"SELECT metadata FROM users WHERE external_id = 'crm-0002'").fetchone()
    assert row == ({"plan": "pro", "seats": 3},)

    status, summary, _ = run_script(path, api_url)  # finished: nothing to do
    assert (status, summary["alreadyDone"]) == (0, True)
    status, summary, _ = run_script(path, api_url, "--restart")  # all again: nobody twice
    assert (status, summary["unchanged"], summary["created"]) == (0, 8, 0)
    assert len(external_ids(database_url)) == 8
    assert len(rejected(path)) == 4  # --restart rewrites the refused lines, not appends them


class Flaky:
    """A proxy in front of the API that passes `passes` requests, then forwards one more but
    drops the connection before its answer (the chunk is written, the script never learns
    it), then refuses everything: an interruption at the worst moment."""

    def __init__(self, target: str, passes: int) -> None:
        self.seen = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.seen += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.seen > passes + 1:
                    self.close_connection = True
                    self.connection.close()
                    return
                answer = requests.post(target + self.path, data=body, headers=dict(self.headers), timeout=60)
                if outer.seen == passes + 1:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_interrupted_import_resumes_after_the_last_acknowledged_chunk(
    tmp_path: Path, api_url: str, database_url: str
) -> None:
    path = tmp_path / "users.jsonl"
    bodies = [
        {
            "externalId": f"crm-{n:04d}",
            "firstName": f"Person{n}",
            "lastName": "Lovelace",
            "dateOfBirth": "1990-12-10",
            "timezone": "Asia/Kathmandu",
            "metadata": {"n": n},
        }
        for n in range(50)
    ]
    lines = [json.dumps(b) for b in bodies]
    lines[13] = '{"externalId": "crm-0013", "firstName": '  # not JSON: refused before the stop
    lines[27] = json.dumps({**bodies[27], "dateOfBirth": "2023-02-29"})  # in the dropped chunk
    path.write_text("\n".join(lines) + "\n")

    flaky = Flaky(api_url, passes=2)
    try:  # one chunk in flight, so that the proxy's third request is the third chunk
        status, summary, stderr = run_script(path, flaky.url, "--chunk", "10", "--parallel", "1")
    finally:
        flaky.close()
    assert status == 3, stderr
    assert "run the same command again to resume" in stderr
    assert (summary["done"], summary["stoppedAfterLine"]) == (False, 21)  # 2 chunks: lines 1-21
    state = json.loads(path.with_name("users.jsonl.import-state.json").read_text())
    assert (state["line"], state["counts"]["created"], state["counts"]["unparsed"]) == (21, 20, 1)
    # The third chunk (lines 22-31) was written by the API, though the script never heard back.
    assert len(external_ids(database_url)) == 29
    assert len(rejected(path)) == 1

    status, summary, stderr = run_script(path, api_url, "--chunk", "10")
    assert status == 0, stderr
    assert summary["resumedAtLine"] == 22
    assert (summary["created"], summary["unchanged"], summary["invalid"], summary["unparsed"]) == (
        20 + 19,  # the first two chunks, then the last two
        9,  # the dropped chunk, sent again: nobody twice
        1,
        1,
    )
    assert external_ids(database_url) == [f"crm-{n:04d}" for n in range(50) if n not in (13, 27)]
    assert event_count(database_url) == 48
    assert [r["line"] for r in rejected(path)] == [14, 28]  # each once, though line 28 was sent twice


def test_with_chunks_in_parallel_an_interruption_still_loses_and_duplicates_nobody(
    tmp_path: Path, api_url: str, database_url: str
) -> None:
    path = tmp_path / "users.csv"
    path.write_text("\n".join([HEADER, *(csv_line(n) for n in range(60))]) + "\n")
    flaky = Flaky(api_url, passes=3)
    try:
        status, first, _ = run_script(path, flaky.url, "--chunk", "5", "--parallel", "4")
    finally:
        flaky.close()
    assert status == 3
    # Whichever chunks got through, the state claims only an unbroken run of answered ones.
    assert first["stoppedAfterLine"] in (0, 1, 6, 11, 16)  # 0: the first chunk was refused
    assert first.get("created", 0) == max(first["stoppedAfterLine"] - 1, 0)
    written = len(external_ids(database_url))
    assert written >= first.get("created", 0)

    status, again, stderr = run_script(path, api_url, "--chunk", "5", "--parallel", "4")
    assert status == 0, stderr
    assert external_ids(database_url) == [f"crm-{n:04d}" for n in range(60)]
    # The counts carry over a resume: every user counted once, as created or as unchanged.
    assert again["created"] + again["unchanged"] == 60
    assert again["unchanged"] == written - first.get("created", 0)  # written, but never acknowledged


def test_a_token_that_may_not_import_stops_the_run_and_writes_nothing(
    tmp_path: Path, api_url: str, database_url: str
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "\n" + csv_line(1) + "\n")
    status, summary, stderr = run_script(path, api_url, token=token_for("user", "someone"))
    assert status == 3
    assert "403" in stderr
    assert summary["done"] is False
    assert external_ids(database_url) == []


def test_a_csv_header_with_an_unknown_column_is_refused_before_sending(tmp_path: Path, api_url: str) -> None:
    path = tmp_path / "users.csv"
    path.write_text("externalId,firstName,lastName,dateOfBirth,timezone,shoeSize\n")
    status, _, stderr = run_script(path, api_url)
    assert status == 2
    assert "shoeSize" in stderr


def users_by_external_id(database_url: str) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            b"SELECT external_id, first_name, date_of_birth, metadata FROM users WHERE deleted_at IS NULL"
        ).fetchall()
    return {row[0]: row[1:] for row in found}


WINS = "(the first line wins)"


@pytest.mark.parametrize("chunk", ["1", "2", "250", None])
def test_one_external_id_on_five_lines_the_first_wins_whatever_the_chunk(
    tmp_path: Path, api_url: str, database_url: str, chunk: str | None
) -> None:
    """Issue 19, item 6: at --chunk 250 the later lines used to overwrite the first, and a
    --restart gave yet another final birth date."""

    def copy(n: int) -> str:
        return csv_line(10, firstName=f"Copy{n}", dateOfBirth=f"1985-0{n}-15")

    first = csv_line(10, firstName="First", dateOfBirth="1990-12-10")
    lines = [HEADER, csv_line(1), csv_line(2), first, copy(1), csv_line(3), copy(2), copy(3), csv_line(4)]
    lines += [copy(4), csv_line(5)]
    path = tmp_path / "users.csv"
    path.write_text("\n".join(lines) + "\n")
    assert [n for n, line in enumerate(lines, 1) if line.startswith("crm-0010,")] == [4, 5, 7, 8, 10]
    args = ("--chunk", chunk) if chunk else ()

    status, summary, stderr = run_script(path, api_url, *args)
    assert status == 0, stderr
    assert (summary["created"], summary["duplicate"], summary["updated"]) == (6, 4, 0)
    wanted = users_by_external_id(database_url)
    assert wanted["crm-0010"][:2] == ("First", date(1990, 12, 10))
    refused = rejected(path)
    assert [r["line"] for r in refused] == [5, 7, 8, 10]
    for entry in refused:
        assert entry["error"]["code"] == "duplicate"
        [detail] = entry["error"]["details"]
        assert detail == {"field": "externalId", "message": f"appears earlier in this file, at line 4 {WINS}"}

    # The same file again, and from scratch: nothing changes.
    with psycopg.connect(database_url) as conn:
        before = conn.execute(b"SELECT * FROM users ORDER BY id").fetchall()
    for again in ((), ("--restart",)):
        status, summary, stderr = run_script(path, api_url, *args, *again)
        assert status == 0, stderr
    counts = (summary["unchanged"], summary["duplicate"], summary["created"], summary["updated"])
    assert counts == (6, 4, 0, 0)
    with psycopg.connect(database_url) as conn:
        assert conn.execute(b"SELECT * FROM users ORDER BY id").fetchall() == before
    assert [r["line"] for r in rejected(path)] == [5, 7, 8, 10]


def test_a_resumed_run_still_knows_the_lines_before_where_it_stopped(
    tmp_path: Path, api_url: str, database_url: str
) -> None:
    lines = [HEADER, *(csv_line(n) for n in range(20)), csv_line(3, firstName="Later")]  # line 22: crm-0003
    path = tmp_path / "users.csv"
    path.write_text("\n".join(lines) + "\n")
    flaky = Flaky(api_url, passes=1)
    try:
        status, first, _ = run_script(path, flaky.url, "--chunk", "5", "--parallel", "1")
    finally:
        flaky.close()
    assert (status, first["stoppedAfterLine"]) == (3, 6)
    status, summary, stderr = run_script(path, api_url, "--chunk", "5")
    assert status == 0, stderr
    assert summary["duplicate"] == 1
    assert users_by_external_id(database_url)["crm-0003"][0] == "Person3"
    assert [(r["line"], r["error"]["code"]) for r in rejected(path)] == [(22, "duplicate")]


def test_a_user_the_import_did_not_create_is_a_conflict_until_adopt(
    tmp_path: Path, api_url: str, database_url: str
) -> None:
    body = {"firstName": "Posted", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "UTC"}
    created = requests.post(
        f"{api_url}/user",
        json={**body, "externalId": "crm-0001"},
        headers={"Authorization": f"Bearer {admin_token()}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    path = tmp_path / "users.csv"
    path.write_text("\n".join([HEADER, csv_line(0), csv_line(1)]) + "\n")

    status, summary, stderr = run_script(path, api_url)
    assert status == 0, stderr
    assert (summary["created"], summary["conflict"]) == (1, 1)
    [refused] = rejected(path)
    assert (refused["line"], refused["error"]["code"]) == (3, "conflict")
    assert users_by_external_id(database_url)["crm-0001"][0] == "Posted"

    status, summary, stderr = run_script(path, api_url, "--restart", "--adopt")
    assert status == 0, stderr
    assert (summary["unchanged"], summary["updated"], summary["conflict"]) == (1, 1, 0)
    assert users_by_external_id(database_url)["crm-0001"][0] == "Person1"
    assert rejected(path) == []
