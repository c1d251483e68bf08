"""The sweep's schedule: a cron rule at every minute, which the look-ahead makes precise."""

from __future__ import annotations

from chalice.app import Cron

import app


def test_the_sweep_runs_on_a_cron_rule_every_minute_not_on_a_rate() -> None:
    [source] = [s for s in app.app.event_sources if getattr(s, "name", None) == "sweep"]
    expression = source.schedule_expression  # type: ignore[attr-defined]
    assert isinstance(expression, Cron)
    assert expression.to_string() == "cron(* * * * ? *)"
