"""Metrics switched off (POWERTOOLS_METRICS_DISABLED, as `make run` sets it) print nothing."""

from __future__ import annotations

import pytest

from chalicelib import observability as obs


def test_disabled_metrics_never_reach_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # Powertools prints a metric's set by itself at its 100th value
        obs.emit([("Completed", obs.Count, 1)])
    assert "_aws" not in capsys.readouterr().out


def test_enabled_metrics_print_one_emf_document_per_emit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    obs.emit([("Completed", obs.Count, 1), ("Deferred", obs.Count, 1)])
    [line] = [line for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert '"Completed":[1.0]' in line or '"Completed":1.0' in line


def test_unknown_metric_names_are_refused_even_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with pytest.raises(ValueError, match="METRIC_NAMES"):
        obs.emit([("NoSuchMetric", obs.Count, 1)])
