"""One DLQ redrive count (settings.DLQ_MAX_RECEIVE_COUNT), above every stage's MAX_ATTEMPTS:
receives that end in an error (the database or the ledger down) must not spend SQS's budget
before the worker's own attempts do. The CDK and the local stack read the same constant
(tests/infra/test_templates.py and tests/integration/test_outage_dlq.py hold them to it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.settings import DLQ_MAX_RECEIVE_COUNT, Settings, SettingsError

CHALICE_CONFIG = Path(__file__).resolve().parents[2] / ".chalice" / "config.json"


def test_the_count_leaves_room_for_an_outage_above_the_attempts_and_within_sqs_limits() -> None:
    assert Settings().max_attempts * 5 <= DLQ_MAX_RECEIVE_COUNT <= 1000


@pytest.mark.parametrize("attempts", [str(DLQ_MAX_RECEIVE_COUNT), str(DLQ_MAX_RECEIVE_COUNT + 1)])
def test_max_attempts_at_or_above_the_redrive_count_is_refused(attempts: str) -> None:
    with pytest.raises(SettingsError, match="MAX_ATTEMPTS"):
        Settings.from_env({"MAX_ATTEMPTS": attempts})


def test_every_chalice_stage_attempts_fewer_times_than_the_redrive_count() -> None:
    config = json.loads(CHALICE_CONFIG.read_text())
    for name, stage in config["stages"].items():
        env = {**config.get("environment_variables", {}), **stage.get("environment_variables", {})}
        attempts = Settings.from_env({"MAX_ATTEMPTS": env.get("MAX_ATTEMPTS", "10")}).max_attempts
        assert attempts < DLQ_MAX_RECEIVE_COUNT, name
