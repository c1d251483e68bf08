"""Schemathesis against the OpenAPI document and the app served over real HTTP.

The app runs in chalice's own local server (`chalice local`'s gateway, authorizer included)
on an ephemeral port in a thread, with the test container installed. Every request carries a
valid admin token, so every operation is reached; schemathesis also sends them without one
and with invalid data (negative mode). Checked for each response: no 5xx, and status code,
content type, headers and body as the document says.

Only operations that app.py routes are fuzzed: those documented ahead of their branch (the
/events routes of the delivery pipeline) join in by themselves once they are routed.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests
import schemathesis
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import app
from chalicelib import bootstrap
from chalicelib.adapters.memory import MemoryLedger, MemoryQueue
from chalicelib.api import openapi
from chalicelib.domain.users import UserFields
from chalicelib.services import users
from tests import contract
from tests.tokens import admin_token, bearer

MAX_EXAMPLES = 25
EXCLUDED_CHECKS = [
    # A 400 for schema-valid data is right where the rule is beyond JSON Schema: a known IANA
    # zone, a date not in the future, printable names. Schema-invalid data must still get a 4xx.
    positive_data_acceptance,
]
SEED = 20260301
ROUTED = {(path, method.upper()) for path, methods in app.routes.items() for method in methods}

config = schemathesis.Config()
config.projects.default.seed = SEED
config.projects.default.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
# Closed: every object schema that lists properties refuses others (tests/contract.py), so a
# field added to the API but not to the document fails here too.
schema = schemathesis.openapi.from_dict(contract.closed(openapi.document()), config=config).include(
    lambda ctx: (ctx.operation.path, ctx.operation.method.upper()) in ROUTED
)


class QuietHandler(ChaliceRequestHandler):
    def __getattr__(self, name: str) -> Any:
        """chalice local's server knows only the verbs Chalice routes and answers 501 to any
        other itself; handing TRACE, QUERY... to the gateway lets the app answer as deployed."""
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = LocalDevServer(app, Config.create(), "127.0.0.1", 0, handler_cls=QuietHandler)
    thread = threading.Thread(target=server.server.serve_forever, name="chalice-local", daemon=True)
    thread.start()
    host, port = server.server.server_address[:2]
    yield f"http://{host!s}:{port}"
    server.shutdown()
    server.server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def seeded(container: bootstrap.Container) -> dict[str, str]:
    """A user and its event: ids that half the generated cases aim at, so that reads, changes
    and deletes reach real records and their 2xx bodies are checked too, not only 404s."""
    c = container.use(
        ledger=MemoryLedger(), queue=MemoryQueue(container.clock), dlq=MemoryQueue(container.clock)
    )
    fields = UserFields("Grace", "Hopper", date(1906, 12, 9), "America/New_York")
    user = users.create_user(c.db, c.clock, c.schedule, fields)
    event = users.user_events(c.db, user.id)[0]
    return {"user_id": str(user.id), "event_id": str(event.id)}


def aim(case: Case, seeded: dict[str, str], turn: int) -> None:
    for name, value in seeded.items():
        current = (case.path_parameters or {}).get(name)
        if turn % 2 == 0 and isinstance(current, str) and _is_uuid(current):
            case.path_parameters[name] = value  # type: ignore[index]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


TURNS = itertools.count()


@schema.parametrize()
# One fresh database for all of an operation's examples: they share it on purpose.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_document(
    case: Case, base_url: str, session: requests.Session, seeded: dict[str, str]
) -> None:
    aim(case, seeded, next(TURNS))
    case.call_and_validate(
        base_url=base_url,
        session=session,
        headers=bearer(admin_token()),
        excluded_checks=EXCLUDED_CHECKS,
        timeout=10,
    )
