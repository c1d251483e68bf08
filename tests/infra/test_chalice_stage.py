"""`chalice deploy --stage` on the CDK's data plane: the data-plane stack has every output
scripts/chalice_stage.py reads, and the config it writes is one Chalice reads back as meant."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from chalice.config import Config

from scripts import chalice_stage
from tests.infra.conftest import ROOT, Template, make

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def data_plane(tmp_path_factory: pytest.TempPathFactory) -> Template:
    out = tmp_path_factory.mktemp("cdk-data")
    make("synth", "STAGE=dev", "DATA_PLANE=1", f"CDK_OUT={out}")
    return Template(out / "dev-data.template.json")


def fake_outputs(template: Template) -> dict[str, str]:
    """Values shaped as `cdk deploy --outputs-file` writes them, one per output of the template."""
    values = {}
    for key in template.raw["Outputs"]:
        if key.endswith("Environment"):
            values[key] = json.dumps({"DB_HOST": "proxy.example", "QUEUE_URL": "https://sqs.example/q"})
        elif key.endswith("RoleArn"):
            values[key] = f"arn:aws:iam::123456789012:role/{key}"
        elif key.endswith("Layers"):  # what the mapping (or the authorizer's condition) gives
            values[key] = "" if key == "MigrateLayers" else f"arn:aws:lambda:us-east-1:1:layer:{key}:4"
        else:
            values[key] = {"FunctionSubnetIds": "subnet-a,subnet-b"}.get(key, f"{key}-value")
    return values


def test_the_data_plane_lints_clean_and_watches_the_functions_chalice_deploys(data_plane: Template) -> None:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(data_plane.path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    throttles = {
        json.dumps(a["Properties"].get("Dimensions"))
        for n, a in data_plane.of_type("AWS::CloudWatch::Alarm").items()
        if "Throttles" in n
    }
    assert '[{"Name": "FunctionName", "Value": "event-scheduler-dev-deliver"}]' in throttles


def test_the_data_plane_has_no_app_and_every_output_the_script_reads(data_plane: Template) -> None:
    assert not data_plane.of_type("AWS::Serverless::Function")
    assert not data_plane.of_type("Custom::SchemaMigrations")
    outputs = set(data_plane.raw["Outputs"])
    for logical_id in chalice_stage.FUNCTIONS.values():
        assert {f"{logical_id}RoleArn", f"{logical_id}Environment", f"{logical_id}Layers"} <= outputs
    layers = data_plane.raw["Outputs"]
    assert layers["MigrateLayers"]["Value"] == ""
    assert "Fn::FindInMap" in layers["APIHandlerLayers"]["Value"]
    assert layers["JwtAuthLayers"]["Value"]["Fn::If"][0] == "AuthorizerUsesSharedSecret"
    assert {"FunctionSubnetIds", "FunctionSecurityGroupId", "QueueUrl"} <= outputs
    [queue] = [
        q for n, q in data_plane.of_type("AWS::SQS::Queue").items() if n.startswith("DeliveryDeliveries")
    ]
    assert queue["Properties"]["QueueName"] == "event-scheduler-deliveries"  # what app.py names


def test_chalice_reads_the_written_stage_as_the_data_planes(data_plane: Template, tmp_path: Path) -> None:
    outputs = fake_outputs(data_plane)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({chalice_stage.stack_name("dev"): outputs}))
    config_path = tmp_path / "config.json"
    config_path.write_text((ROOT / ".chalice" / "config.json").read_text())
    assert chalice_stage.main(["--stage", "dev", "--outputs", str(path), "--config", str(config_path)]) == 0
    written = json.loads(config_path.read_text())
    for function in ("deliver", "jwt_auth"):
        config = Config(chalice_stage="dev", function_name=function, config_from_disk=written)
        assert config.manage_iam_role is False
        assert config.iam_role_arn.endswith(f"{chalice_stage.FUNCTIONS[function]}RoleArn")
        assert config.environment_variables["DB_HOST"] == "proxy.example"
        assert config.environment_variables["STAGE"] == "dev"  # the stage's own settings stay
    deliver = Config(chalice_stage="dev", function_name="deliver", config_from_disk=written)
    assert deliver.subnet_ids == ["subnet-a", "subnet-b"]
    assert deliver.layers == ["arn:aws:lambda:us-east-1:1:layer:DeliverLayers:4"]
    assert not Config(chalice_stage="dev", function_name="migrate", config_from_disk=written).layers
    assert Config(chalice_stage="dev", function_name="jwt_auth", config_from_disk=written).subnet_ids is None
    # the stage's other settings (the worker's concurrency) are untouched
    assert written["stages"]["dev"]["lambda_functions"]["deliver"]["reserved_concurrency"] == 5
