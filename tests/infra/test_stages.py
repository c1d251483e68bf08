"""The stage table and the Chalice config the infrastructure derives from (no synth needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stacks.stages import CHALICE_CONFIG, CLOUD_STAGES, STAGES, ChaliceConfig


def test_function_settings_follow_chalices_precedence(tmp_path: Path) -> None:
    config = {
        "lambda_timeout": 3,
        "lambda_functions": {"deliver": {"lambda_timeout": 30, "lambda_memory_size": 256}},
        "stages": {
            "dev": {"lambda_memory_size": 512, "lambda_functions": {"deliver": {"reserved_concurrency": 4}}},
        },
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    deliver = ChaliceConfig("dev", path).function("deliver")
    # stage+function beats stage beats function beats top level
    assert (deliver.reserved_concurrency, deliver.memory_mb, deliver.timeout_seconds) == (4, 512, 30)
    assert ChaliceConfig("dev", path).function("sweep").timeout_seconds == 3


def test_every_cloud_stage_is_configured_for_both_chalice_and_the_cdk() -> None:
    chalice = json.loads(CHALICE_CONFIG.read_text())
    assert set(chalice["stages"]) == {"local", *CLOUD_STAGES}
    assert set(STAGES) == set(CLOUD_STAGES)
    for stage in CLOUD_STAGES:
        config = ChaliceConfig(stage)
        env = config.environment()
        assert env["STAGE"] == stage
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "EventScheduler"
        assert env["CORS_ALLOW_ORIGIN"].startswith("https://")
        assert config.function("deliver").reserved_concurrency, "the worker's concurrency is bounded"
        assert config.function("deliver").timeout_seconds * 6 <= 12 * 3600  # SQS's visibility ceiling
        assert config.api_stage_name == "v1"


def test_local_stage_sets_nothing_that_would_override_make_run() -> None:
    local = json.loads(CHALICE_CONFIG.read_text())["stages"]["local"]["environment_variables"]
    assert set(local) == {"STAGE", "CORS_ALLOW_ORIGIN"}  # chalice local overrides the shell's values


def test_cloud_stages_never_prepare_statements_behind_rds_proxy() -> None:
    stages = json.loads(CHALICE_CONFIG.read_text())["stages"]
    for stage in CLOUD_STAGES:
        assert stages[stage]["environment_variables"]["DB_PREPARE_THRESHOLD"] == "off", stage


def test_the_worker_may_send_only_to_the_aws_destinations_a_stage_lists(tmp_path: Path) -> None:
    from stacks.stages import endpoint_grants

    allowed = "arn:aws:sqs:eu-west-1:123456789012:team-*, arn:aws:sns:eu-west-1:123456789012:crm,"
    config = {"stages": {"dev": {"environment_variables": {"ENDPOINT_ALLOWED_ARNS": allowed}}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    arns = ChaliceConfig("dev", path).endpoint_allowed_arns
    assert endpoint_grants(arns) == {
        "sqs:SendMessage": ["arn:aws:sqs:eu-west-1:123456789012:team-*"],
        "sns:Publish": ["arn:aws:sns:eu-west-1:123456789012:crm"],
    }
    assert endpoint_grants(["arn:aws:events:eu-west-1:123456789012:event-bus/team"]) == {
        "events:PutEvents": ["arn:aws:events:eu-west-1:123456789012:event-bus/team"]
    }
    for stage in CLOUD_STAGES:  # none until a stage lists its teams' targets
        assert ChaliceConfig(stage).endpoint_allowed_arns == []
    with pytest.raises(ValueError, match="ENDPOINT_ALLOWED_ARNS"):
        endpoint_grants(["arn:aws:s3:::bucket"])
