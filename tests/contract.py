"""Every response the functional tests see, checked against the OpenAPI document.

`check(method, path, response)` finds the operation the request reached, then requires the
status to be declared for it, the content type to be declared for that status, and the body to
validate against its schema (OpenAPI 3.0 rules: `nullable`, formats), with every object schema
closed: a field the document does not declare is an error, whether or not the schema says
`additionalProperties: false`, so new fields and paths are held to the document as they land.
A method the path does not declare must get a 405 in the API's error shape.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from chalicelib.api import openapi

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ROOT = "urn:event-scheduler:openapi"
GATEWAY_STATUSES = {401, 403}  # the authorizer's refusals, answered by the gateway itself


class ContractViolation(AssertionError):
    """A response the OpenAPI document does not describe."""


def closed(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists properties
    and says nothing about others (oneOf/anyOf branches too)."""
    if isinstance(schema, dict):
        out = {key: closed(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


@cache
def _document() -> dict[str, Any]:
    return closed(copy.deepcopy(openapi.document()))


@cache
def _registry() -> Registry:
    return Registry().with_resource(ROOT, Resource.from_contents(_document(), default_specification=DRAFT4))


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in _document()["paths"]:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal paths before templated ones (/user/import before /user/{user_id}).
    routes.sort(key=lambda route: route[1].count("{"))
    return routes


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        resolved: Any = _document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            resolved = resolved[part]
        node = resolved
    return node


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any] | None]:
    """The path template the request reached and its operation (None: method not declared)."""
    bare = path.split("?", 1)[0]
    for pattern, template in _routes():
        if pattern.match(bare):
            item = _document()["paths"][template]
            return template, item.get(method.lower())
    raise ContractViolation(f"{method} {bare}: no path in the document matches")


def _anchored(schema: Any) -> Any:
    """Local references (`#/components/...`) made absolute, to resolve in the registry."""
    if isinstance(schema, dict):
        return {
            key: ROOT + value if key == "$ref" and value.startswith("#") else _anchored(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_anchored(item) for item in schema]
    return schema


def validate_body(schema: dict[str, Any], body: Any, where: str) -> None:
    validator = OAS30Validator(
        _anchored(closed(schema)), registry=_registry(), format_checker=oas30_format_checker
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors[:5]]
        raise ContractViolation(f"{where}: the body does not match the document:\n  " + "\n  ".join(lines))


def check(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> None:
    template, op = operation_for(method, path)
    where = f"{method} {template} -> {status}"
    if op is None:
        if status != 405:
            raise ContractViolation(f"{where}: {method} is not declared for this path, so 405 is due")
        validate_body({"$ref": "#/components/schemas/Error"}, json.loads(body), where)
        return
    declared = op["responses"].get(str(status)) or op["responses"].get("default")
    if declared is None:
        raise ContractViolation(f"{where}: status not declared (declared: {sorted(op['responses'])})")
    content = _resolve(declared).get("content")
    if not content:
        if body:
            raise ContractViolation(f"{where}: a body, where the document declares none")
        return
    media = {k.lower(): v for k, v in headers.items()}.get("content-type", "").split(";")[0].strip()
    if not media and status in GATEWAY_STATUSES:
        media = "application/json"  # API Gateway sends it; chalice's local gateway sends none
    if media not in content:
        raise ContractViolation(f"{where}: content type {media!r} not declared ({sorted(content)})")
    if media == "application/json":
        validate_body(content[media].get("schema", {}), json.loads(body), where)
