"""What the docs list, the code has: the metrics an operator reads."""

from __future__ import annotations

import re

from chalicelib.observability import METRIC_NAMES
from tests.docs.readme import ROOT, section


def test_the_metrics_table_names_every_metric_the_app_emits_and_no_other() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = section(operations, "Metrics and logs")
    listed = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.M))
    assert listed == METRIC_NAMES, "docs/operations.md's metrics table and observability.METRIC_NAMES differ"


def test_every_setting_the_docs_name_is_read_somewhere() -> None:
    """An environment variable or constant in code spans (`SWEEP_LOOKAHEAD`, `LATE_AFTER`) is
    one the app, the scripts, the CDK app, the Makefile or the workflows name."""
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("chalicelib", "scripts", "infra/stacks", "infra/hooks", ".github")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".yml", ".yaml", ".json"}
    )
    code += (ROOT / "app.py").read_text(encoding="utf-8") + (ROOT / "Makefile").read_text(encoding="utf-8")
    code += (ROOT / "infra" / "cdk_app.py").read_text(encoding="utf-8")
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        named = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:=[^`]*)?`", page.read_text(encoding="utf-8")))
        assert not {name for name in named if name not in code}, page.name
