"""What the Lambda package must not hold: the local stack's twins and test clocks, which live in
scripts/devstack/ (imported by scripts and tests, never by chalicelib or app.py)."""

from __future__ import annotations

import ast
from collections.abc import Mapping

TEST_ONLY = frozenset(
    {
        "ManualClock",  # scripts/devstack/clock.py
        "MemoryQueue",  # scripts/devstack/twins.py
        "MemoryLedger",
        "create_queues",  # scripts/devstack/aws.py: in AWS the CDK makes the queues and the table
        "create_ledger_table",
        "create_table",
        "downgrade",  # scripts/devstack/migrations.py: the Lambda only applies migrations
    }
)
LOCAL_PACKAGES = ("scripts", "tests")


def test_only_code(sources: Mapping[str, str]) -> list[str]:
    """Each definition of a TEST_ONLY name (a function, method or class) and each import of the
    local stack's or the tests' packages in `sources` (path → Python text), as `path: what`."""
    found = []
    for path, text in sorted(sources.items()):
        for node in ast.walk(ast.parse(text, path)):
            definition = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            if definition and node.name in TEST_ONLY:
                found.append(f"{path}: defines {node.name}")
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found += [f"{path}: imports {n}" for n in names if n.split(".")[0] in LOCAL_PACKAGES]
    return found
