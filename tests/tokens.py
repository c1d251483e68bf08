"""Tokens for tests: real ones from scripts/mint_token.py, and hand-built JWS for the attacks
(`alg: none`, edited payloads, odd keys) that a JWT library refuses to produce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from chalicelib.settings import LOCAL_JWT_SECRET
from scripts.mint_token import mint

ADMIN_SUB = "test-admin"


def admin_token() -> str:
    return mint("admin", ADMIN_SUB, LOCAL_JWT_SECRET)


def token_for(role: str, sub: str, ttl: int = 600) -> str:
    return mint(role, sub, LOCAL_JWT_SECRET, ttl)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(role: str = "admin", sub: str = ADMIN_SUB, ttl: int = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "roles": [role], "iat": now, "exp": now + ttl, **extra}


def hs256(payload: dict[str, Any], secret: bytes | str, header: dict[str, Any] | None = None) -> str:
    """Signed by hand, so that any secret (empty, a PEM public key) can be used."""
    key = secret.encode() if isinstance(secret, str) else secret
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', **(header or {})})}.{b64url_json(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(payload: dict[str, Any]) -> str:
    return f"{b64url_json({'alg': 'none', 'typ': 'JWT'})}.{b64url_json(payload)}."


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature over a payload edited after signing."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64url_json({**decoded, **changes})}.{signature}"
