#!/usr/bin/env python3
"""Send a file of users through POST /user/import, in chunks, resumably.

    scripts/import_users.py USERS.csv|USERS.jsonl --url http://127.0.0.1:8000 [--token T]
        [--chunk 1000] [--parallel 2] [--retries 5] [--restart] [--adopt]

The file: CSV with a header row (columns firstName, lastName, dateOfBirth, timezone,
externalId, and optionally anniversaryDate and metadata, a JSON object; an empty cell is left
out), or JSON lines (one POST /user body per line). One user per line either way: a CSV field
may be quoted but never spans lines. Blank lines are skipped. The token comes from --token or
$TOKEN (an admin or service token: `TOKEN=$(scripts/mint_token.py --role service)`).

One externalId on several lines: the first line wins, whatever --chunk is; every later one is
refused here, before sending, as a duplicate naming the earlier line (the script reads the
file's externalIds once before it sends anything, resumed runs too). So the same file sent
twice changes nothing the second time.

The import updates only users it created; a live user with the same externalId made any other
way comes back "conflict". --adopt lets it update those users too (the API's "adopt": true).

Next to the input it keeps
- FILE.import-state.json: how far the file has been acknowledged by the API (byte offset,
  line number, counts), rewritten atomically after each chunk's answer. Run the same command
  again after an interruption (Ctrl-C, a crash, the API down) and it resumes after the last
  acknowledged chunk. With --parallel N, up to N chunks are in flight and their answers are
  acknowledged in file order. The chunks in flight when it stopped are sent again, harmless:
  the import is idempotent on externalId, so those users come back "unchanged".
  --restart ignores the state and sends the whole file again (also harmless).
- FILE.rejected.jsonl: one JSON line per refused line, `{"line", "record", "error"}`: lines
  that could not be parsed here (a malformed CSV line, bad JSON), duplicates, and users the
  API refused, with its error. Kept in step with the state file, so a resumed run never
  repeats an entry.

A progress bar goes to stderr; the last line on stdout is a JSON summary. Exit status 0 when
the whole file was sent (refused lines included: see the summary and FILE.rejected.jsonl), 2
on bad usage or a file that is not what was expected, 3 when it stopped before the end (the
API unreachable after --retries, or refusing the token): run again to resume.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path: the project root goes there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import csv
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import requests

COLUMNS = {"firstName", "lastName", "dateOfBirth", "timezone", "externalId", "anniversaryDate", "metadata"}
REQUIRED_COLUMNS = {"firstName", "lastName", "dateOfBirth", "timezone", "externalId"}
MAX_CHUNK = 1000
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
STATUSES = ("created", "unchanged", "updated", "invalid", "conflict")
REFUSED_HERE = ("unparsed", "duplicate")


class Stop(Exception):
    """The run cannot go on now; what was acknowledged is saved and a new run resumes."""


class BadInput(Exception):
    """The file is not one this script can send (exit status 2)."""


@dataclass
class State:
    fingerprint: str
    offset: int = 0
    """Bytes of the input acknowledged (every line before it sent and answered, or refused)."""
    line: int = 0
    """The number of the last line acknowledged (1-based, header included)."""
    rejected_bytes: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((*STATUSES, *REFUSED_HERE), 0))
    done: bool = False

    def __post_init__(self) -> None:
        self.counts = {**dict.fromkeys((*STATUSES, *REFUSED_HERE), 0), **self.counts}  # an older state file

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)  # atomic: a crash leaves the old state or the new, never half


@dataclass
class Record:
    line: int
    raw: str
    end: int
    """The byte offset just after this line."""
    body: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    refused: str = "unparsed"
    """Why a line with no body is refused here: unparsed or duplicate."""

    @property
    def external_id(self) -> str | None:
        value = (self.body or {}).get("externalId")
        return value if isinstance(value, str) else None


def fingerprint(path: Path) -> str:
    """The input's size and first 64 KiB: a state file for another file is not reused."""
    with path.open("rb") as f:
        head = f.read(65536)
    return f"{path.stat().st_size}:{hashlib.sha256(head).hexdigest()}"


def local_error(message: str, field_name: str = "line") -> dict[str, Any]:
    return {"code": "unparsed", "message": message, "details": [{"field": field_name, "message": message}]}


def csv_body(header: list[str], raw: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    try:
        rows = list(csv.reader([raw], strict=True))
    except csv.Error as exc:
        return None, local_error(f"malformed CSV: {exc}")
    if len(rows) != 1 or len(rows[0]) != len(header):
        found = len(rows[0]) if rows else 0
        return None, local_error(f"malformed CSV: {found} fields, the header has {len(header)}")
    body: dict[str, Any] = {}
    for name, cell in zip(header, rows[0], strict=True):
        if cell == "":
            continue
        if name == "metadata":
            try:
                body[name] = json.loads(cell)
            except ValueError:
                return None, local_error("is not valid JSON", "metadata")
        else:
            body[name] = cell
    return body, None


def json_body(raw: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None, local_error("is not valid JSON")
    if not isinstance(value, dict):
        return None, local_error("must be a JSON object")
    return value, None


def read_header(f: BinaryIO) -> tuple[list[str], int]:
    first = f.readline()
    try:
        [header] = list(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")], strict=True))
    except (csv.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"the CSV header cannot be read: {exc}") from None
    unknown = sorted(set(header) - COLUMNS)
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if unknown or missing or len(set(header)) != len(header):
        raise BadInput(
            f"CSV header: unknown columns {unknown}, missing {missing}, or a column twice: {header}"
        )
    return header, len(first)


def records(f: BinaryIO, is_csv: bool, header: list[str], offset: int, line: int) -> Iterator[Record]:
    """The file's lines after `offset`, parsed; one record per non-blank line."""
    f.seek(offset)
    for data in f:
        offset += len(data)
        line += 1
        try:
            raw = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Record(line, data.decode("utf-8", "replace"), offset, error=local_error("is not UTF-8"))
            continue
        if not raw.strip():
            yield Record(line, raw, offset)  # blank: nothing to send, but acknowledged
            continue
        body, error = csv_body(header, raw) if is_csv else json_body(raw)
        yield Record(line, raw, offset, body, error)


def first_lines(items: Iterator[Record]) -> dict[str, int]:
    """Each externalId's first line in the file: the one that is sent."""
    first: dict[str, int] = {}
    for record in items:
        if record.external_id is not None:
            first.setdefault(record.external_id, record.line)
    return first


def without_duplicates(items: Iterator[Record], first: dict[str, int]) -> Iterator[Record]:
    """A line whose externalId an earlier line has is refused, whichever chunk either falls in:
    sent in one request the API would refuse it, sent in another it would overwrite the first."""
    for record in items:
        external_id = record.external_id
        if external_id is not None and first[external_id] != record.line:
            message = f"appears earlier in this file, at line {first[external_id]} (the first line wins)"
            error = {"code": "duplicate", "message": f"externalId {external_id!r} {message}"}
            record.body, record.refused = None, "duplicate"
            record.error = {**error, "details": [{"field": "externalId", "message": message}]}
        yield record


def chunks(items: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    users = 0
    for item in items:
        chunk.append(item)
        users += item.body is not None
        if users >= size:
            yield chunk
            chunk, users = [], 0
    if chunk:
        yield chunk


class Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = max(total, 1), enabled
        self.began = time.monotonic()
        self.sent = 0

    def show(self, offset: int, state: State) -> None:
        if not self.enabled:
            return
        share = offset / self.total
        bar = "#" * int(share * 30)
        rate = self.sent / max(time.monotonic() - self.began, 1e-9)
        c = state.counts
        refused = c["invalid"] + c["conflict"] + c["unparsed"] + c["duplicate"]
        print(
            f"\r[{bar:<30}] {share:6.1%}  line {state.line:,}  {rate:,.0f} users/s  created {c['created']:,}"
            f"  updated {c['updated']:,}  unchanged {c['unchanged']:,}  refused {refused:,} ",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def end(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


class Importer:
    def __init__(
        self, url: str, token: str, retries: int, timeout: float = 120.0, adopt: bool = False
    ) -> None:
        self.url = url.rstrip("/") + "/user/import"
        self.adopt = adopt
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._local = threading.local()  # a Session per thread: they are not thread-safe
        self.retries, self.timeout = retries, timeout

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self.headers)
        return session

    def send(self, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One chunk, retried on what may pass (connection errors, 429, 5xx): safe, since the
        import is idempotent. Raises Stop when it does not pass."""
        if not users:
            return []
        body = json.dumps({"users": users, **({"adopt": True} if self.adopt else {})}).encode()
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(2**attempt * 0.5, 30))
            try:
                response = self._session().post(self.url, data=body, timeout=self.timeout)
            except requests.RequestException as exc:
                problem = f"could not reach {self.url}: {exc}"
                continue
            if response.status_code == 200:
                results: list[dict[str, Any]] = response.json()["results"]
                if len(results) != len(users):
                    raise Stop(f"the API answered {len(results)} results for {len(users)} users")
                return results
            problem = f"the API answered {response.status_code}: {response.text[:500]}"
            if response.status_code not in RETRYABLE:
                raise Stop(problem)
        raise Stop(f"{problem} (after {self.retries} retries)")


def acknowledge(
    chunk: list[Record],
    answer: Future[list[dict[str, Any]]],
    state: State,
    state_path: Path,
    rejected: BinaryIO,
    progress: Progress,
) -> None:
    """One chunk's answer: counts, refused lines (flushed to disk), then the state file."""
    sending = [r for r in chunk if r.body is not None]
    results = answer.result()
    for record, result in zip(sending, results, strict=True):
        state.counts[result["status"]] += 1
        if "error" in result:  # invalid or conflict
            record.error = result["error"]
    for record in chunk:
        if record.body is None and record.error is not None:
            state.counts[record.refused] += 1
        if record.error is not None:
            entry = {"line": record.line, "record": record.raw, "error": record.error}
            rejected.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
    rejected.flush()
    os.fsync(rejected.fileno())
    state.offset, state.line = chunk[-1].end, chunk[-1].line
    state.rejected_bytes = rejected.tell()
    state.save(state_path)
    progress.sent += len(sending)
    progress.show(state.offset, state)


def run(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.file).resolve()
    if not path.is_file():
        raise BadInput(f"{path} is not a file")
    is_csv = args.format == "csv" if args.format else path.suffix.lower() == ".csv"
    state_path = path.with_name(path.name + ".import-state.json")
    rejected_path = path.with_name(path.name + ".rejected.jsonl")
    current = fingerprint(path)
    state = State(current)
    if state_path.exists() and not args.restart:
        saved = State(**json.loads(state_path.read_text()))
        if saved.fingerprint != current:
            raise BadInput(
                f"{state_path} is for another version of {path.name}: use --restart to send it all"
            )
        state = saved
    resumed_at = state.line + 1 if state.offset else None
    if state.done:
        return {"file": str(path), "done": True, "alreadyDone": True, **state.counts}
    importer = Importer(args.url, args.token, args.retries, adopt=args.adopt)
    with path.open("rb") as f, rejected_path.open("ab") as rejected:
        rejected.truncate(state.rejected_bytes)  # entries past the last acknowledged chunk come again
        header: list[str] = []
        start, start_line = 0, 0
        if is_csv:
            header, start = read_header(f)
            start_line = 1
            if state.offset == 0:
                state.offset, state.line = start, start_line
        first = first_lines(records(f, is_csv, header, start, start_line))  # the whole file, resumed or not
        progress = Progress(path.stat().st_size, not args.quiet)
        progress.show(state.offset, state)
        window: deque[tuple[list[Record], Future[list[dict[str, Any]]]]] = deque()
        pool = ThreadPoolExecutor(max_workers=args.parallel)
        try:
            # Up to --parallel chunks in flight; answers are taken, and the state advanced, in
            # file order, so the state never claims a chunk whose predecessor is unanswered.
            remaining = without_duplicates(records(f, is_csv, header, state.offset, state.line), first)
            for chunk in chunks(remaining, args.chunk):
                users = [r.body for r in chunk if r.body is not None]
                window.append((chunk, pool.submit(importer.send, users)))
                if len(window) >= args.parallel:
                    acknowledge(*window.popleft(), state, state_path, rejected, progress)
            while window:
                acknowledge(*window.popleft(), state, state_path, rejected, progress)
        finally:
            for _, pending in window:
                pending.cancel()
            pool.shutdown(wait=True)
            progress.end()
    state.done = True
    state.save(state_path)
    return {
        "file": str(path),
        "done": True,
        "resumedAtLine": resumed_at,
        "rejectedFile": str(rejected_path),
        **state.counts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file")
    parser.add_argument("--url", default=os.environ.get("API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("TOKEN"))
    parser.add_argument("--chunk", type=int, default=MAX_CHUNK, help=f"users per request, 1 to {MAX_CHUNK}")
    parser.add_argument("--parallel", type=int, default=2, help="chunks in flight at once (default 2)")
    parser.add_argument("--retries", type=int, default=5, help="per chunk, on connection errors, 429 and 5xx")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: csv for *.csv, else JSON lines")
    parser.add_argument("--restart", action="store_true", help="ignore the state file; send everything again")
    parser.add_argument(
        "--adopt", action="store_true", help="let the import update live users it did not create (see above)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token or $TOKEN")
    if not 1 <= args.parallel <= 16:
        parser.error("--parallel must be 1 to 16")
    if not 1 <= args.chunk <= MAX_CHUNK:
        parser.error(f"--chunk must be 1 to {MAX_CHUNK}")
    try:
        summary = run(args)
    except BadInput as exc:
        print(f"import_users: {exc}", file=sys.stderr)
        return 2
    except (Stop, KeyboardInterrupt) as exc:
        print(
            f"import_users: stopped: {exc or 'interrupted'}; run the same command again to resume",
            file=sys.stderr,
        )
        state_file = Path(args.file).resolve()
        state_file = state_file.with_name(state_file.name + ".import-state.json")
        saved = json.loads(state_file.read_text()) if state_file.exists() else {}
        print(
            json.dumps(
                {
                    "file": args.file,
                    "done": False,
                    "stoppedAfterLine": saved.get("line", 0),
                    **saved.get("counts", {}),
                }
            )
        )
        return 3
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
