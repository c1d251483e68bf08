"""Where the local stack keeps its state: `.local/` at the project root, ignored by git."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
PGDATA = LOCAL / "pgdata"
