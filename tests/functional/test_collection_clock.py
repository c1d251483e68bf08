"""No test here depends on the wall clock between collection and execution: the suites that
mint tokens pass with collection ten minutes before execution (tests/collection_shift.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack  # another pytest, with its own PostgreSQL
ROOT = Path(__file__).resolve().parents[2]
# The modules that mint tokens or compute instants from the wall clock.
MODULES = ["tests/unit/test_jwt_verifier.py", "tests/functional/test_auth_api.py"]


def test_token_tests_pass_when_collected_ten_minutes_before_they_run() -> None:
    command = [sys.executable, "-m", "pytest", "-p", "tests.collection_shift", "-q", "-p", "no:cacheprovider"]
    env = os.environ | {"COLLECTION_SHIFT": "600"}
    run = subprocess.run([*command, *MODULES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
