"""The audience's SQL against its Python: PostgreSQL's `@>` and `domain.audience.contains`
agree (the worker checks membership in Python, the sweep in SQL). The keys the sweep writes in
SQL are compared with `audience_key` in tests/integration/pipeline/test_audiences.py."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from chalicelib.adapters.postgres import Database
from chalicelib.domain.audience import contains
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
