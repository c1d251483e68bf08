"""The PreTraffic hook's probes against the real handlers (in-process, as Lambda would invoke
them), the real PostgreSQL and the local HS256 secret: a healthy version passes each probe,
and a broken one (a database it cannot reach, an authorizer that lets anyone in) is caught."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from hooks import pre_traffic

import app as app_module
from chalicelib import bootstrap
from chalicelib.adapters.postgres import Database
from chalicelib.settings import LOCAL_JWT_SECRET, Settings
from scripts.devstack.aws import free_port
from scripts.devstack.clock import ManualClock
from scripts.devstack.twins import MemoryLedger, MemoryQueue

ENV = {"API_FUNCTION": "api", "WORKER_FUNCTION": "deliver", "AUTHORIZER_FUNCTION": "auth", "API_STAGE": "v1"}


class Context:
    function_name = "probe"
    aws_request_id = "probe"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:probe:7"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def handlers(authorizer: Callable[..., Any] | None = None) -> dict[str, Callable[..., Any]]:
    return {"api": app_module.app, "deliver": app_module.deliver, "auth": authorizer or app_module.jwt_auth}


def invoker(functions: dict[str, Callable[..., Any]], calls: list[str]) -> pre_traffic.Invoke:
    """Lambda's Invoke: the payload, or the error Lambda reports when the handler raises."""

    def invoke(name: str, version: str, event: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        calls.append(f"{name}:{version}")
        try:
            return functions[name](event, Context()), None
        except Exception as exc:
            return {"errorMessage": str(exc), "errorType": type(exc).__name__}, "Unhandled"

    return invoke


@pytest.fixture
def deployed(settings: Settings, clock: ManualClock, db: Database) -> Iterator[bootstrap.Container]:
    """The app as deployed, with in-memory queues and ledger to see that nothing is sent; the
    webhook's port refuses connections (a probe must never reach it)."""
    webhook = f"http://127.0.0.1:{free_port()}/never"
    c = bootstrap.Container(replace(settings, webhook_url=webhook), clock)
    c.use(db=db, queue=MemoryQueue(), dlq=MemoryQueue(), ledger=MemoryLedger())
    bootstrap.install(c)
    yield c
    bootstrap.install(None)


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM events)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_healthy_version_passes_every_probe_and_changes_nothing(
    deployed: bootstrap.Container, database_url: str
) -> None:
    calls: list[str] = []
    invoke = invoker(handlers(), calls)
    before = counts(database_url)
    for function in ("api", "deliver", "auth"):
        pre_traffic.run_probe(invoke, function, "7", ENV, lambda: LOCAL_JWT_SECRET)
    assert calls == ["api:7", "deliver:7", "auth:7", "auth:7"]  # bad token, then a good one
    assert counts(database_url) == before
    assert deployed.dlq.sent == deployed.queue.sent == 0  # type: ignore[attr-defined]


def test_a_version_that_cannot_reach_the_database_is_stopped(
    deployed: bootstrap.Container, free_port_url: str
) -> None:
    # Its pool as the container would build it, but giving up on a connection in 0.5 s, not 5.
    unreachable = Database(free_port_url, timeout=0.5)
    broken = bootstrap.Container(replace(deployed.settings, database_url=free_port_url)).use(db=unreachable)
    bootstrap.install(broken)
    try:
        with pytest.raises(pre_traffic.ProbeFailed, match="/health"):
            pre_traffic.run_probe(invoker(handlers(), []), "api", "8", ENV, lambda: None)
    finally:
        unreachable.close()


def test_an_authorizer_that_lets_a_bad_token_in_is_stopped(deployed: bootstrap.Container) -> None:
    def lets_anyone_in(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"principalId": "anyone", "policyDocument": {"Statement": [{"Effect": "Allow"}]}}

    with pytest.raises(pre_traffic.ProbeFailed, match="did not refuse"):
        pre_traffic.run_probe(
            invoker(handlers(lets_anyone_in), []), "auth", "9", ENV, lambda: LOCAL_JWT_SECRET
        )


def test_an_authorizer_that_refuses_a_good_token_is_stopped(deployed: bootstrap.Container) -> None:
    wrong_secret = lambda: "another secret of at least thirty-two bytes!"  # noqa: E731
    with pytest.raises(pre_traffic.ProbeFailed, match="refused a valid token"):
        pre_traffic.run_probe(invoker(handlers(), []), "auth", "9", ENV, wrong_secret)


def test_a_function_the_hook_does_not_know_fails_closed() -> None:
    with pytest.raises(pre_traffic.ProbeFailed, match="no probe"):
        pre_traffic.run_probe(invoker({}, []), "sweep", "1", ENV, lambda: None)


def test_the_target_version_is_read_from_the_deployments_appspec() -> None:
    content = (
        '{"version":0.0,"Resources":[{"fn":{"Type":"AWS::Lambda::Function","Properties":'
        '{"Name":"event-scheduler-prod-APIHandler-x","Alias":"live","CurrentVersion":"3","TargetVersion":"4"}}}]}'
    )
    deployment = {"deploymentInfo": {"revision": {"appSpecContent": {"content": content}}}}
    assert pre_traffic.target(deployment) == ("event-scheduler-prod-APIHandler-x", "4")


@pytest.fixture
def free_port_url(database_url: str) -> str:
    from psycopg import conninfo

    return conninfo.make_conninfo(database_url, host="127.0.0.1", port=str(free_port()), connect_timeout="1")


def test_the_hs256_token_is_one_pyjwt_accepts() -> None:
    import jwt

    token = pre_traffic.hs256_token(LOCAL_JWT_SECRET, {"sub": str(uuid.uuid4()), "roles": ["service"]})
    assert jwt.decode(token, LOCAL_JWT_SECRET, algorithms=["HS256"])["roles"] == ["service"]
