from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

from chalicelib.settings import LOCAL_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]


def test_token_script_runs_as_a_script_and_prints_the_token_last() -> None:
    """Run from its folder, as docs/api.md says, scripts/mint_token.py finds the project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "JWKS_", "AUTH_"))}
    done = subprocess.run(
        [sys.executable, "scripts/mint_token.py", "--role", "service", "--ttl", "120"],
        cwd=ROOT,
        env={**env, "STAGE": "local"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = done.stdout.strip().splitlines()[-1]
    assert jwt.decode(token, LOCAL_JWT_SECRET, algorithms=["HS256"])["roles"] == ["service"]
