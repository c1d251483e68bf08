"""`chalice deploy --stage dev`, a second deploy and `chalice delete`, offline, against a moto
server standing in for AWS: the stage's config is written by scripts/chalice_stage.py from a
data plane's outputs (here: the same kind of resources, made in moto), and the app alone is
deployed onto it — the functions, the schedule rule, the SQS event source and the REST API.
The authorizer, which moto ignores, is checked in `chalice package`'s template instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.handlers import QUEUE_NAME
from scripts import chalice_stage
from scripts.devstack import aws
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra
FUNCTIONS = {
    "api_handler": "event-scheduler-dev",
    "sweep": "event-scheduler-dev-sweep",
    "deliver": "event-scheduler-dev-deliver",
    "migrate": "event-scheduler-dev-migrate",
    "jwt_auth": "event-scheduler-dev-jwt_auth",
}


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with aws.moto_server() as endpoint:
        yield endpoint


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def data_plane(endpoint: str) -> dict[str, str]:
    """What `cdk deploy -c app=false` would output, for resources made in moto."""
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)
    ]
    group = ec2.create_security_group(GroupName="functions", Description="functions", VpcId=vpc)["GroupId"]
    sqs = client(endpoint, "sqs")
    queue = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"{QUEUE_NAME}-dlq")["QueueUrl"]
    iam = client(endpoint, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    outputs = {"FunctionSubnetIds": ",".join(subnets), "FunctionSecurityGroupId": group}
    database = {
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app",
        "DB_HOST": "proxy",
    }
    environments = {
        "APIHandler": database,
        "Sweep": {**database, "QUEUE_URL": queue},
        "Deliver": {**database, "QUEUE_URL": queue, "DLQ_URL": dlq, "WEBHOOK_URL": "https://hooks.example"},
        "Migrate": database,
        "JwtAuth": {"JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt"},
    }
    for logical_id, environment in environments.items():
        role = iam.create_role(RoleName=f"dev-data-{logical_id}", AssumeRolePolicyDocument=json.dumps(trust))
        outputs[f"{logical_id}RoleArn"] = role["Role"]["Arn"]
        outputs[f"{logical_id}Environment"] = json.dumps(environment)
    return outputs


@pytest.fixture(scope="module")
def project(moto: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the app (with Chalice's cached dependency zip), its dev stage pointed at moto's
    data plane by scripts/chalice_stage.py."""
    root = tmp_path_factory.mktemp("chalice-project")
    shutil.copy2(ROOT / "app.py", root)
    shutil.copy2(ROOT / "requirements.txt", root)
    shutil.copytree(ROOT / "chalicelib", root / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".chalice", root / ".chalice", ignore=shutil.ignore_patterns("deployed", "venv"))
    outputs = root / "outputs.json"
    outputs.write_text(json.dumps({chalice_stage.stack_name("dev"): data_plane(moto)}))
    config = root / ".chalice" / "config.json"
    assert chalice_stage.main(["--stage", "dev", "--outputs", str(outputs), "--config", str(config)]) == 0
    return root


def chalice(project: Path, endpoint: str, *args: str) -> str:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AWS_PROFILE", None)
    result = subprocess.run(
        [sys.executable, "-m", "tests.infra.chalice_on_moto", "--project-dir", str(project), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"chalice {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


def mappings(lambda_: Any, function_name: str) -> list[dict[str, Any]]:
    every = lambda_.list_event_source_mappings()["EventSourceMappings"]
    return [m for m in every if m["FunctionArn"].split(":")[6] == function_name]


def test_chalice_deploy_redeploy_and_delete_on_the_data_plane(project: Path, moto: str) -> None:
    lambda_ = client(moto, "lambda")
    chalice(project, moto, "deploy", "--stage", "dev")
    functions = {f["FunctionName"]: f for f in lambda_.list_functions()["Functions"]}
    assert set(FUNCTIONS.values()) <= set(functions)
    config = json.loads((project / ".chalice" / "config.json").read_text())["stages"]["dev"]
    for name, function_name in FUNCTIONS.items():
        deployed = lambda_.get_function(FunctionName=function_name)["Configuration"]
        assert deployed["Role"] == config["lambda_functions"][name]["iam_role_arn"]  # the data plane's
        assert deployed["Environment"]["Variables"]["STAGE"] == "dev"
        in_vpc = name in chalice_stage.IN_VPC
        assert bool(deployed.get("VpcConfig", {}).get("SubnetIds")) is in_vpc, name
    worker_env = lambda_.get_function(FunctionName=FUNCTIONS["deliver"])["Configuration"]["Environment"]
    assert worker_env["Variables"]["WEBHOOK_URL"] == "https://hooks.example"

    [mapping] = mappings(lambda_, FUNCTIONS["deliver"])
    assert mapping["EventSourceArn"].endswith(f":{QUEUE_NAME}")
    events = client(moto, "events")
    [rule] = [r for r in events.list_rules()["Rules"] if r["Name"].startswith("event-scheduler-dev-sweep")]
    assert rule["ScheduleExpression"] == "cron(* * * * ? *)"  # every minute (the sweep looks ahead)
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(f":function:{FUNCTIONS['sweep']}")
    apigateway = client(moto, "apigateway")
    [api] = [a for a in apigateway.get_rest_apis()["items"] if a["name"] == "event-scheduler"]
    paths = {r["path"] for r in apigateway.get_resources(restApiId=api["id"], limit=500)["items"]}
    assert {"/health", "/user", "/user/{user_id}", "/events/{event_id}/deliveries"} <= paths
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api["id"])["item"]] == ["v1"]

    again = chalice(project, moto, "deploy", "--stage", "dev")  # a redeploy updates in place
    assert "Updating lambda function" in again
    assert len(mappings(lambda_, FUNCTIONS["deliver"])) == 1
    assert [a["id"] for a in apigateway.get_rest_apis()["items"] if a["name"] == "event-scheduler"] == [
        api["id"]
    ]

    chalice(project, moto, "delete", "--stage", "dev")
    left = {f["FunctionName"] for f in lambda_.list_functions()["Functions"]}
    assert not set(FUNCTIONS.values()) & left
    assert not [a for a in apigateway.get_rest_apis()["items"] if a["name"] == "event-scheduler"]
    assert not [r for r in events.list_rules()["Rules"] if r["Name"].startswith("event-scheduler-dev")]


PUBLIC = ("/health", "/openapi.json", "/console", "/console/assets/{name}")
"""What API Gateway serves without a token: nothing in them is the team's data."""


def test_the_authorizer_guards_every_route_but_the_public_ones_in_chalices_template(tmp_path: Path) -> None:
    out = tmp_path / "package"
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "chalice"), "package", "--stage", "dev", str(out)],
        cwd=ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        check=True,
        capture_output=True,
        timeout=600,
    )
    template = json.loads((out / "sam.json").read_text())
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["jwt_auth"]
    assert authorizer["x-amazon-apigateway-authtype"] == "custom"
    settings = authorizer["x-amazon-apigateway-authorizer"]
    assert settings["type"] == "token"
    assert settings["authorizerResultTtlInSeconds"] == 300
    assert "JwtAuth.Arn" in json.dumps(settings["authorizerUri"])
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            if method == "options":
                continue
            guarded = operation.get("security") == [{"jwt_auth": []}]
            assert guarded is (path not in PUBLIC), f"{method.upper()} {path}"
