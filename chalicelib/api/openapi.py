"""GET /openapi.json: the checked-in OpenAPI document, read once and served as is."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from chalice.app import Response

from chalicelib.api import http

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.json"


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def serve() -> Response:
    return http.json_response(document())
