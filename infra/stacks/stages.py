"""What differs between stages, in one table; the Chalice config is read, not repeated.

Function memory, timeouts, reserved concurrency and the delivery attempts live in
.chalice/config.json (the functions' own settings); the queue's visibility timeout, its
redrive count and the event source's maximum concurrency are derived from them here, so the
two can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
CLOUD_STAGES = ("dev", "staging", "prod")


@dataclass(frozen=True)
class StageConfig:
    name: str
    db_instance_class: str
    db_storage_gb: int
    db_max_storage_gb: int
    multi_az: bool
    nat_gateways: int
    keep_data: bool
    """Prod keeps its database (snapshot), ledger and secrets when the stack is deleted."""
    deployment_type: str
    """How CodeDeploy shifts traffic to new function versions; dev goes all at once."""
    monthly_budget_usd: int
    """The budget that alerts the alarm topic (the seed's estimate of the stage's upper bound)."""


# 10 % for 10 minutes, then all: long enough for a 5-minute alarm (the seed's "sustained 5
# minutes") plus CloudWatch's delay to go off before the shift completes (monitoring.py).
CANARY = "Canary10Percent10Minutes"
CANARY_WINDOW_SECONDS = 600
STAGES = {
    "dev": StageConfig(
        name="dev",
        db_instance_class="t4g.small",
        db_storage_gb=20,
        db_max_storage_gb=50,
        multi_az=False,
        nat_gateways=1,
        keep_data=False,
        deployment_type="AllAtOnce",
        monthly_budget_usd=100,
    ),
    "staging": StageConfig(
        name="staging",
        db_instance_class="r6g.large",  # the seed: staging is production-equivalent
        db_storage_gb=100,
        db_max_storage_gb=1000,
        multi_az=False,
        nat_gateways=1,
        keep_data=False,
        deployment_type=CANARY,
        monthly_budget_usd=200,
    ),
    "prod": StageConfig(
        name="prod",
        db_instance_class="r6g.large",
        db_storage_gb=100,
        db_max_storage_gb=1000,
        multi_az=True,
        nat_gateways=2,
        keep_data=True,
        deployment_type=CANARY,
        monthly_budget_usd=500,
    ),
}


@dataclass(frozen=True)
class FunctionConfig:
    timeout_seconds: int
    memory_mb: int
    reserved_concurrency: int | None
    architecture: str
    """Chalice's `lambda_architecture` (x86_64 unless configured): the layers must match it."""


class ChaliceConfig:
    """The parts of .chalice/config.json the infrastructure derives from, for one stage."""

    def __init__(self, stage: str, path: Path = CHALICE_CONFIG) -> None:
        self.stage = stage
        self._raw: dict[str, Any] = json.loads(path.read_text())
        self._stage: dict[str, Any] = self._raw["stages"][stage]

    def environment(self) -> dict[str, str]:
        return {**self._raw.get("environment_variables", {}), **self._stage.get("environment_variables", {})}

    def function(self, name: str) -> FunctionConfig:
        # Chalice's own precedence: stage+function, stage, function, top level.
        layers = [
            self._stage.get("lambda_functions", {}).get(name, {}),
            self._stage,
            self._raw.get("lambda_functions", {}).get(name, {}),
            self._raw,
        ]

        def lookup(key: str, default: Any = None) -> Any:
            return next((layer[key] for layer in layers if layer.get(key) is not None), default)

        return FunctionConfig(
            timeout_seconds=int(lookup("lambda_timeout", 60)),
            memory_mb=int(lookup("lambda_memory_size", 128)),
            reserved_concurrency=lookup("reserved_concurrency"),
            architecture=str(lookup("lambda_architecture", "x86_64")),
        )

    @property
    def api_stage_name(self) -> str:
        return str(self._stage.get("api_gateway_stage", self._raw.get("api_gateway_stage", "api")))

    @property
    def max_attempts(self) -> int:
        return int(self.environment().get("MAX_ATTEMPTS", "10"))

    @property
    def endpoint_allowed_arns(self) -> list[str]:
        """The team's AWS destinations the stage lets an endpoint name (the API refuses others)."""
        value = self.environment().get("ENDPOINT_ALLOWED_ARNS", "")
        return [arn.strip() for arn in value.split(",") if arn.strip()]


ENDPOINT_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "events": "events:PutEvents"}
"""What the worker does to an endpoint's queue, topic or bus: send, nothing more."""


def endpoint_grants(arns: list[str]) -> dict[str, list[str]]:
    """Per action, the allowed ARNs (patterns as IAM reads them) it is granted on."""
    grants: dict[str, list[str]] = {}
    for arn in arns:
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ENDPOINT_ACTIONS:
            raise ValueError(f"ENDPOINT_ALLOWED_ARNS: {arn!r} is not an SQS, SNS or EventBridge ARN")
        grants.setdefault(ENDPOINT_ACTIONS[parts[2]], []).append(arn)
    return grants
