"""CodeDeploy's PreTraffic hook: invokes each new function version before any traffic moves.

CodeDeploy calls this (the `BeforeAllowTraffic` lifecycle event) once per deployment; the
deployment names the function and its target version. By role:

- authorizer: a malformed token is refused; a token signed with the stage's HS256 secret is
  allowed (RS256 stages hold no private key here: only the refusal is checked);
- API handler: `GET /health` answers 200, so the new code reaches the database;
- worker: a well-formed message for an event that does not exist is dropped: the worker reads
  the database and reports no failure, and nothing is written, sent or dead-lettered.

Then it reports Succeeded or Failed (PutLifecycleEventHookExecutionStatus); Failed stops the
deployment before the alias moves. Standard library and boto3 only: it is its own function,
on no other function's cold path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

Invoke = Callable[[str, str, dict[str, Any]], tuple[dict[str, Any] | None, str | None]]
"""(function name, version, event) -> (the decoded payload, the function error or None)."""


class ProbeFailed(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret: str, claims: Mapping[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(dict(claims)).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def authorizer_event(token: str, method_arn: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": method_arn}


def health_event(stage: str) -> dict[str, Any]:
    """An API Gateway proxy event for GET /health, as the REST API sends it."""
    return {
        "resource": "/health",
        "path": "/health",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/health",
            "httpMethod": "GET",
            "path": f"/{stage}/health",
            "stage": stage,
            "requestId": f"pre-traffic-{uuid.uuid4()}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }


def unknown_event_message() -> dict[str, Any]:
    """An SQS event with one delivery message for an event id no row has."""
    body = {"eventId": str(uuid.uuid4()), "version": 1, "idempotencyKey": "pre-traffic-probe"}
    return {
        "Records": [
            {
                "messageId": f"pre-traffic-{uuid.uuid4()}",
                "receiptHandle": "pre-traffic-probe",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:pre-traffic-probe",
            }
        ]
    }


def probe_authorizer(
    invoke: Invoke, name: str, version: str, env: Mapping[str, str], secret: str | None
) -> None:
    arn = env.get("PROBE_METHOD_ARN", "arn:aws:execute-api:us-east-1:000000000000:probe/v1/GET/health")
    payload, error = invoke(name, version, authorizer_event("not-a-token", arn))
    refused = error is not None and "Unauthorized" in json.dumps(payload)
    if not refused:
        raise ProbeFailed(f"the authorizer did not refuse a malformed token: {payload} {error}")
    if secret is None:
        return
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "pre-traffic-hook", "roles": ["service"], "iat": now, "exp": now + 300}
    if env.get("JWT_ISSUER"):
        claims["iss"] = env["JWT_ISSUER"]
    if env.get("JWT_AUDIENCE"):
        claims["aud"] = env["JWT_AUDIENCE"]
    payload, error = invoke(name, version, authorizer_event(hs256_token(secret, claims), arn))
    statements = (payload or {}).get("policyDocument", {}).get("Statement", [])
    if error is not None or not any(s.get("Effect") == "Allow" for s in statements):
        raise ProbeFailed(f"the authorizer refused a valid token: {payload} {error}")


def probe_api(invoke: Invoke, name: str, version: str, env: Mapping[str, str]) -> None:
    payload, error = invoke(name, version, health_event(env.get("API_STAGE", "v1")))
    if error is not None or (payload or {}).get("statusCode") != 200:
        raise ProbeFailed(f"GET /health did not answer 200: {payload} {error}")


def probe_worker(invoke: Invoke, name: str, version: str) -> None:
    payload, error = invoke(name, version, unknown_event_message())
    if error is not None or payload != {"batchItemFailures": []}:
        raise ProbeFailed(f"the worker did not drop a message for no event: {payload} {error}")


def run_probe(
    invoke: Invoke, function: str, version: str, env: Mapping[str, str], jwt_secret: Callable[[], str | None]
) -> str:
    """Runs the probe for `function`; returns what was checked, raises ProbeFailed."""
    if function == env.get("AUTHORIZER_FUNCTION"):
        probe_authorizer(invoke, function, version, env, None if env.get("JWKS_URL") else jwt_secret())
        return "authorizer refuses a bad token" + ("" if env.get("JWKS_URL") else " and accepts a good one")
    if function == env.get("API_FUNCTION"):
        probe_api(invoke, function, version, env)
        return "GET /health answers 200"
    if function == env.get("WORKER_FUNCTION"):
        probe_worker(invoke, function, version)
        return "the worker drops a message for no event"
    raise ProbeFailed(f"no probe for {function}: the hook is wired to a function it does not know")


def target(deployment: Mapping[str, Any]) -> tuple[str, str]:
    """The function and version a CodeDeploy Lambda deployment shifts to, from its AppSpec."""
    content = deployment["deploymentInfo"]["revision"]["appSpecContent"]["content"]
    for resource in json.loads(content)["Resources"]:
        for spec in resource.values():
            props = spec["Properties"]
            return str(props["Name"]), str(props["TargetVersion"])
    raise ProbeFailed("the deployment's AppSpec names no function")


def _boto3_invoke(client: Any) -> Invoke:
    def invoke(name: str, version: str, event: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        response = client.invoke(FunctionName=name, Qualifier=version, Payload=json.dumps(event).encode())
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        return payload, response.get("FunctionError")

    return invoke


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    import boto3  # the Lambda runtime's

    codedeploy = boto3.client("codedeploy")
    status, detail = "Failed", ""
    try:
        function, version = target(codedeploy.get_deployment(deploymentId=event["DeploymentId"]))

        def jwt_secret() -> str | None:
            arn = os.environ.get("JWT_SECRET_ARN")
            if not arn:
                return None
            return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])

        detail = run_probe(_boto3_invoke(boto3.client("lambda")), function, version, os.environ, jwt_secret)
        status = "Succeeded"
    except Exception as exc:  # any failure, ours included, must stop the deployment
        detail = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"deploymentId": event.get("DeploymentId"), "status": status, "detail": detail}))
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return {"status": status, "detail": detail}
