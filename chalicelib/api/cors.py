"""CORS for every route, with the allowed origin from CORS_ALLOW_ORIGIN (`*` when unset).

The one setting read at import time, on purpose: Chalice writes CORS into the API definition
(the OPTIONS pre-flight methods) when it packages the app, and it sets the stage's
environment variables from .chalice/config.json before it imports app.py; the Lambda sees the
same variable at run time, so the packaged API and the handler's headers always agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from chalice.app import CORSConfig

ALLOWED_HEADERS = ["Content-Type", "Authorization", "Idempotency-Key"]
EXPOSED_HEADERS = ["Idempotent-Replayed"]  # a browser's script may read it on a replay
MAX_AGE_SECONDS = 600


def from_env(env: Mapping[str, str] | None = None) -> CORSConfig:
    env = os.environ if env is None else env
    return CORSConfig(
        allow_origin=env.get("CORS_ALLOW_ORIGIN") or "*",
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=MAX_AGE_SECONDS,
    )
