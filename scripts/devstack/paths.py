"""Where the local stack keeps its state: `.local/` at the project root, ignored by git."""

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
PGDATA = LOCAL / "pgdata"


def local_dir(env: Mapping[str, str] = os.environ) -> Path:
    """`make run`'s state folder: LOCAL_DIR, else `.local/` in this checkout."""
    return Path(env.get("LOCAL_DIR") or LOCAL).resolve()
