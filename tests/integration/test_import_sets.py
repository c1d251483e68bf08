"""Each function loads only what it uses: a fresh interpreter imports app.py (every function's
module, as Lambda does), answers once as that function, and its sys.modules is checked.

What is not loaded costs no cold-start time; scripts/bench_cold.py measures what is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "import-sets-" + "k" * 40
HEAVY = {
    "psycopg", "psycopg_pool", "boto3", "botocore", "pynamodb", "requests", "aws_lambda_powertools",
    "jwt", "cryptography",
    "chalicelib.adapters.postgres", "chalicelib.services.worker", "chalicelib.services.sweeper",
    "chalicelib.observability",
}  # fmt: skip

CHILD = r"""
import json, sys
scenario, argument = sys.argv[1], sys.argv[2]
import app

def api_event(method, resource, path, params):
    return {"resource": resource, "path": path, "httpMethod": method, "headers": {},
            "multiValueHeaders": {}, "queryStringParameters": None, "pathParameters": params,
            "multiValueQueryStringParameters": None,
            "stageVariables": None, "isBase64Encoded": False, "body": None,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "path": path,
                               "stage": "v1", "identity": {"sourceIp": "127.0.0.1"},
                               "authorizer": {"userId": "t", "roles": "admin", "email": ""}}}

if scenario == "import":
    answer = None
elif scenario == "authorizer":
    event = {"type": "TOKEN", "authorizationToken": "Bearer " + argument,
             "methodArn": "arn:aws:execute-api:us-east-1:1:api/v1/GET/user"}
    answer = app.jwt_auth(event, None)["principalId"]
elif scenario == "api":
    event = api_event("GET", "/user/{user_id}", "/user/" + argument, {"user_id": argument})
    answer = app.app(event, None)["statusCode"]
elif scenario == "worker":
    answer = app.deliver({"Records": []}, None)
elif scenario == "sweeper":
    event = {"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "1", "time": argument, "region": "us-east-1", "detail": {}, "resources": []}
    app.sweep(event, None)
    answer = "swept"
print("import-sets " + json.dumps({"answer": answer, "modules": sorted(sys.modules)}))
"""


def run(scenario: str, argument: str = "", **env: str) -> tuple[Any, set[str]]:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "STAGE": "dev",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD, scenario, argument],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("import-sets ")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    found = json.loads(lines[-1].removeprefix("import-sets "))
    return found["answer"], set(found["modules"])


def heavy(modules: set[str]) -> set[str]:
    return modules & HEAVY


def test_importing_app_loads_nothing_heavy() -> None:
    _, modules = run("import")
    assert heavy(modules) == set()


def test_an_hs256_authorizer_loads_pyjwt_and_not_requests_the_database_aws_or_the_pipeline() -> None:
    token = jwt.encode(
        {"sub": "someone", "roles": ["user"], "exp": int(time.time()) + 600}, JWT_SECRET, algorithm="HS256"
    )
    answer, modules = run("authorizer", token, JWT_SECRET=JWT_SECRET)
    assert answer == "someone"
    assert heavy(modules) == {"jwt"}  # not even cryptography: HMAC is the standard library's


def test_the_api_reads_a_user_with_psycopg_only(database_url: str) -> None:
    answer, modules = run("api", str(uuid.uuid4()), DATABASE_URL=database_url)
    assert answer == 404
    assert heavy(modules) == {"psycopg", "psycopg_pool", "chalicelib.adapters.postgres"}


def test_the_worker_builds_its_pipeline_without_the_authorizers_pyjwt() -> None:
    env = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",  # an empty batch connects to nothing
        "QUEUE_URL": "http://127.0.0.1:9/000000000000/q",
        "DLQ_URL": "http://127.0.0.1:9/000000000000/dlq",
        "WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "WEBHOOK_SECRET": "whsec_c2VjcmV0",  # a cloud stage's worker refuses to send unsigned
    }
    answer, modules = run("worker", **env)
    assert answer == {"batchItemFailures": []}
    assert "chalicelib.services.worker" in modules
    assert "chalicelib.services.sweeper" not in modules
    assert {"jwt", "cryptography", "requests"}.isdisjoint(modules)  # the webhook is http.client
    # Its SQS client is botocore's: boto3 would bring s3transfer (~45 ms) for nothing.
    assert "botocore" in modules
    assert {"boto3", "s3transfer"}.isdisjoint(modules)


def test_the_sweeper_loads_neither_the_worker_nor_the_ledger_nor_pyjwt(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "QUEUE_URL": "http://127.0.0.1:9/000000000000/q"}
    answer, modules = run("sweeper", "2026-01-01T00:00:00Z", **env)
    assert answer == "swept"
    assert "chalicelib.services.sweeper" in modules
    assert {"chalicelib.services.worker", "pynamodb", "requests", "jwt", "cryptography"}.isdisjoint(modules)
    assert {"boto3", "s3transfer"}.isdisjoint(modules)


LOADER = """
import sys
from chalicelib.adapters import pyjwt_loader
first, then = sys.argv[1] == "rsa", sys.argv[2] == "rsa"
jwt = pyjwt_loader.load(asymmetric=first)
print(jwt.algorithms.has_crypto, "cryptography" in sys.modules)
try:
    pyjwt_loader.load(asymmetric=then)
    print("ok")
except RuntimeError as exc:
    print(exc)
"""


def loader(first: str, then: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADER, first, then], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def test_pyjwt_for_hs256_only_leaves_cryptography_out_and_refuses_rsa_later() -> None:
    assert loader("hmac", "hmac") == ["False False", "ok"]
    assert loader("hmac", "rsa")[1].startswith("pyjwt was imported for HS256 only")


def test_pyjwt_for_a_jwks_has_cryptography() -> None:
    assert loader("rsa", "hmac") == ["True True", "ok"]
