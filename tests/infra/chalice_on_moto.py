"""`chalice` as the CLI runs it, with one adaptation for moto server (the tests' AWS emulator).

    python -m tests.infra.chalice_on_moto --project-dir DIR deploy --stage dev

ADAPTATION FOR MOTO ONLY — real API Gateway takes Chalice's document as it is. moto's
ImportRestApi/PutRestApi accept only OpenAPI 3 with `info.description`, and Chalice writes
Swagger 2.0: before those two calls the document's version line becomes `openapi: 3.0.1` and a
description is added, and the CORS pre-flight's `mock` integrations get the empty `uri` and the
`httpMethod` moto insists on; paths, methods and the Lambda integrations pass unchanged. (moto
ignores authorizers either way: the authorizer is checked in `chalice package`'s template.)
"""

from __future__ import annotations

import json
import sys
from typing import Any

from botocore.session import Session
from chalice import cli
from chalice.cli import factory

_create_session = factory.create_botocore_session


def as_openapi3_for_moto(params: dict[str, Any], **_: Any) -> None:
    document = json.loads(params["body"])
    document.pop("swagger", None)
    document["openapi"] = "3.0.1"
    document.setdefault("info", {}).setdefault("description", "event-scheduler (chalice deploy on moto)")
    for methods in document.get("paths", {}).values():
        for method, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            if integration.get("type") == "mock":
                integration.setdefault("uri", "")
                integration.setdefault("httpMethod", method.upper())
    params["body"] = json.dumps(document).encode()


def create_botocore_session(*args: Any, **kwargs: Any) -> Session:
    session = _create_session(*args, **kwargs)
    for operation in ("ImportRestApi", "PutRestApi"):
        session.register(f"before-parameter-build.api-gateway.{operation}", as_openapi3_for_moto)
    return session


if __name__ == "__main__":
    factory.create_botocore_session = create_botocore_session  # the one seam the CLI offers
    sys.exit(cli.main())
