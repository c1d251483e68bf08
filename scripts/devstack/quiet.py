"""Keeps the handlers' stdout (EMF metric documents and JSON log lines, as in Lambda) off a
tool's own report."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield
