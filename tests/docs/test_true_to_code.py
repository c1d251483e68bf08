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
