from __future__ import annotations

from chalicelib.api import cors


def test_the_origin_comes_from_the_environment() -> None:
    config = cors.from_env({"CORS_ALLOW_ORIGIN": "https://app.example.com"})
    headers = config.get_access_control_headers()
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    allowed = set(headers["Access-Control-Allow-Headers"].split(","))
    assert {"Content-Type", "Authorization", "Idempotency-Key"} <= allowed
    assert headers["Access-Control-Expose-Headers"] == "Idempotent-Replayed"
    assert headers["Access-Control-Max-Age"] == str(cors.MAX_AGE_SECONDS)


def test_any_origin_only_when_nothing_is_configured() -> None:
    assert cors.from_env({}).allow_origin == "*"
    assert cors.from_env({"CORS_ALLOW_ORIGIN": ""}).allow_origin == "*"
