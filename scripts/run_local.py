"""`make run`: the whole system on this machine, on embedded defaults.

Starts (unless told otherwise by the environment) the embedded PostgreSQL, applies the
migrations and serves the API on http://127.0.0.1:8000 with `chalice local`. Ctrl-C stops
everything it started; a second copy refuses to start while one runs.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# The project root replaces this folder at the head of sys.path: scripts/token.py would
# otherwise shadow the standard library's `token` module.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import requests

from chalicelib.adapters import migrations
from scripts.devstack.paths import LOCAL, PGDATA, ROOT

API_HOST = "127.0.0.1"
API_PORT = int(os.environ.get("API_PORT", "8000"))


def hold_lock() -> object:
    LOCAL.mkdir(exist_ok=True)
    handle = (LOCAL / "run.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("make run is already running in this folder (see .local/run.lock); stop it first.")
    return handle


def database_url() -> tuple[str, object | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    from scripts.devstack.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(PGDATA)
    return server.url(), server


def wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the API exited early with code {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    sys.exit(f"the API did not answer {url} within {timeout:.0f}s")


def main() -> int:
    started = time.monotonic()
    _lock = hold_lock()
    db_url, server = database_url()
    for m in migrations.upgrade(db_url):
        print(f"migrated: {m.version:04d}_{m.name}")
    env = {**os.environ, "DATABASE_URL": db_url, "STAGE": "local"}
    api = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "chalice"),
            "local",
            "--host",
            API_HOST,
            "--port",
            str(API_PORT),
            "--stage",
            "local",
            # The reloader polls every file under the project each second, .venv and the
            # database in .local/pgdata included: each write restarted the API mid-session,
            # and SIGTERM to its parent left the serving worker behind on the port.
            "--no-autoreload",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_health(f"http://{API_HOST}:{API_PORT}/health", api)
        print(f"API       http://{API_HOST}:{API_PORT}  (healthy after {time.monotonic() - started:.1f}s)")
        print(f"database  {db_url}")
        print("Ctrl-C stops everything.")
        api.wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.terminate()
        try:
            api.wait(10)
        except subprocess.TimeoutExpired:
            api.kill()
        if server is not None:
            server.close()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # timely in a log file
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop on SIGTERM as on Ctrl-C
    sys.exit(main())
