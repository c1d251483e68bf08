"""The README's "Try it" block, run as written against a real `make run` stack.

The stack is scripts/run_local.py in a subprocess, started as tests/e2e start it, on free ports
and the real clock. The block's commands run, in order, in one bash session from the project's
root; two things in the text are changed: the API's address (the stack is on a free port, not
8000) and the folder of the file the block writes (/tmp/ada.json: the test's own folder). What
each command prints must be what the README prints under it, once the values that differ on
every run are masked: ids, the request's instants, and the year of the next birthday.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.devstack.aws import free_port
from tests.docs.readme import README, ROOT, Command, console_block, section
from tests.e2e.test_local_stack import Stack

pytestmark = pytest.mark.e2e

README_API = "http://127.0.0.1:8000"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")  # createdAt, updatedAt
NEXT_YEAR = re.compile(r"\b2\d{3}(-\d\d-\d\d)")  # the next birthday's year (not a 19xx birth date)


def masked(output: str) -> str:
    return NEXT_YEAR.sub(r"YYYY\1", NOW.sub("<now>", UUID.sub("<uuid>", output)))


def try_it() -> list[Command]:
    return console_block(section(README.read_text(encoding="utf-8"), "Try it"))


def test_the_block_is_read_as_commands_with_their_output() -> None:
    commands = try_it()
    assert commands[0].text.startswith("TOKEN=$(.venv/bin/python scripts/mint_token.py")
    assert sum(README_API in c.text for c in commands) >= 8
    assert any(c.output == ["204"] for c in commands)


@pytest.fixture
def api(postgres_safe_dir: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    outside = ("DATABASE_URL", "AWS_", "WEBHOOK_", "JWT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(outside)}
    env.update(
        LOCAL_DIR=str(postgres_safe_dir),
        API_PORT=str(port),
        SINK_PORT=str(free_port()),
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
    )
    env.pop("CLOCK_OFFSET", None)
    env.pop("AUTH_MODE", None)
    stack = Stack(env, tmp_path / "stack.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        assert stack.stop() == 0


def test_the_try_it_block_runs_as_written(api: str, tmp_path: Path) -> None:
    commands = try_it()
    script = ["set -u"]
    for i, command in enumerate(commands):
        text = command.text.replace(README_API, api).replace("/tmp/ada.json", str(tmp_path / "ada.json"))
        script += [f"echo '@@@ {i}'", text]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT", "STAGE"))}
    ran = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    printed = re.split(r"^@@@ \d+\n", ran.stdout, flags=re.M)[1:]
    assert len(printed) == len(commands), ran.stdout
    for command, output in zip(commands, printed, strict=True):
        expected = "\n".join(command.output)
        assert masked(output.rstrip("\n")) == masked(expected), command.text
