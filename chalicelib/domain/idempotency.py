"""`Idempotency-Key` on the POSTs that create (Stripe's semantics): what a key may be, what makes
two requests the same, how long a key lives, and which answers are kept for replay.

The request and its kept answer are written in the transaction that creates the record
(services/idempotency.py), so an answer is kept exactly when its creation committed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.errors import Conflict, FieldError, ValidationError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
"""A key older than this is forgotten: the same key then starts a new request."""
MAX_KEY_LENGTH = 255
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")


def parse_key(value: str | None) -> str | None:
    """The header's key, None when the header is absent; 1 to 255 printable ASCII characters."""
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        message = f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID, for instance)"
        raise ValidationError.single(HEADER, message)
    return value


def fingerprint(method: str, path: str, body: bytes | str | None) -> str:
    """What makes two requests the same: method, path and body. A JSON body counts as the value
    the API reads from it (key order and spacing do not matter); any other body as its bytes."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = b"raw:" + raw
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    caller: str
    """The token's subject: keys are the caller's own, never shared with another caller."""
    key: str
    fingerprint: str


@dataclass(frozen=True)
class KeptResponse:
    """An answer as it is replayed: status, headers and the body's exact text."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict, hash=False)


def is_kept(status: int) -> bool:
    """Only an answer whose creation committed (2xx) is kept. A refusal (4xx) or a failure (5xx)
    created nothing, so the key stays free and a retry runs again: Stripe keeps no answer for a
    request that failed validation or met a concurrent one either, and keeps its 500s only
    because its side effects may have partly happened, which one transaction rules out here."""
    return 200 <= status < 300


@dataclass(frozen=True)
class KeyRecord:
    """A key as stored: the request it was first used for, and the answer kept for it."""

    fingerprint: str
    created_at: datetime
    response: KeptResponse | None
    """None only inside the transaction that claimed the key: it is written before commit."""

    def is_live(self, now: datetime) -> bool:
        return now - self.created_at < LIFETIME


class IdempotencyKeyReused(Conflict):
    """This Idempotency-Key was used with a different request."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        message = (
            "was first used with a different request (method, path or body) in the last 24 hours;"
            " use a new key for a new request"
        )
        super().__init__(details=[FieldError(HEADER, message)])
