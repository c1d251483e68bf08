"""The audience's SQL against its Python: PostgreSQL's `@>` and `domain.audience.contains`
agree (the worker checks membership in Python, the sweep in SQL), and `audience_event_key`
is `audience_key` (the sweep writes keys in SQL, every reschedule in Python)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from chalicelib.adapters.postgres import Database
from chalicelib.domain.audience import contains
from chalicelib.domain.events import audience_key
from scripts.devstack.store import tool_transaction

pytestmark = pytest.mark.integration

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([1.0, 2.5]),
    st.sampled_from(["a", "b", "1"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=8,
)
objects = st.dictionaries(st.sampled_from(["a", "b", "c"]), values, max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(container=objects, contained=objects)  # the database is only read
def test_contains_is_postgresqls_containment(
    db: Database, container: dict[str, Any], contained: dict[str, Any]
) -> None:
    with tool_transaction(db) as store:
        row = store.one(
            "SELECT %(a)s::jsonb @> %(b)s::jsonb AS c", {"a": Jsonb(container), "b": Jsonb(contained)}
        )
    assert row is not None
    assert contains(container, contained) is row["c"], (container, contained)


def test_the_key_sql_writes_is_the_key_python_computes(db: Database) -> None:
    for _ in range(20):
        user, schedule = uuid.uuid4(), uuid.uuid4()
        day = date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + int(user.int % 4000))
        with tool_transaction(db) as store:
            row = store.one(
                "SELECT audience_event_key(%(u)s, %(s)s, %(d)s) AS k", {"u": user, "s": schedule, "d": day}
            )
        assert row == {"k": audience_key(user, schedule, day)}
