"""Named SQL blocks from `chalicelib/sql/queries/*.sql`, loaded once.

A block starts with a line `-- name: NAME`; the store (chalicelib/adapters/postgres.py) says
`queries()["NAME"]` and is the only module that does. The local stack's store
(scripts/devstack/store.py) reads its own file with `parse_named_queries`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_named_queries(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def queries() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((SQL_DIR / "queries").glob("*.sql")):
        for name, body in parse_named_queries(path.read_text()).items():
            if name in found:
                raise ValueError(f"query {name!r} is defined twice (again in {path.name})")
            found[name] = body
    return found
