"""A pytest plugin: collection runs COLLECTION_SHIFT seconds (default 600) in the past.

    pytest -p tests.collection_shift tests/unit tests/functional

`time.time` runs behind while pytest collects, then is put back: a token or instant computed
at collection is then as stale as on a slow machine where the suite takes ten minutes to reach
it. A test whose result changes under this depends on the wall clock between collection and
execution. (A proof tool only; the suite never loads it by itself.)
"""

from __future__ import annotations

import os
import time

import pytest

_real = time.time


def pytest_collectstart(collector: pytest.Collector) -> None:
    shift = float(os.environ.get("COLLECTION_SHIFT", "600"))
    time.time = lambda: _real() - shift


def pytest_collection_finish(session: pytest.Session) -> None:
    time.time = _real
