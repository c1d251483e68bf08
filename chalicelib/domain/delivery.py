"""Delivery rules, pure: the queue message, webhook outcomes, backoff and Retry-After.

A message names an event at a version; the worker re-reads everything else, so a message
never carries stale data, only a stale version (which it then drops).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from uuid import UUID

SQS_MAX_VISIBILITY = timedelta(hours=12) - timedelta(minutes=1)
"""SQS refuses a visibility beyond 12 hours from the receive; a minute spare for the call."""
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class MalformedMessage(ValueError):
    """A queue message that is not one of ours."""


@dataclass(frozen=True)
class Message:
    event_id: UUID
    version: int
    idempotency_key: str
    endpoint_id: UUID | None = None
    """Set on a message that sends a finished event to one endpoint again (recover, replay)."""
    replay: bool = False
    """Sent even if the endpoint has it (POST /events/{id}/replay); else only if it has not."""

    def encode(self) -> str:
        data: dict[str, object] = {
            "eventId": str(self.event_id),
            "version": self.version,
            "idempotencyKey": self.idempotency_key,
        }
        if self.endpoint_id is not None:
            data |= {"endpointId": str(self.endpoint_id), "replay": self.replay}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, body: str) -> Message:
        try:
            data = json.loads(body)
            version = data["version"]
            key = data["idempotencyKey"]
            if type(version) is not int or not isinstance(key, str):
                raise TypeError("version must be an integer and idempotencyKey a string")
            endpoint = UUID(data["endpointId"]) if data.get("endpointId") is not None else None
            return cls(UUID(data["eventId"]), version, key, endpoint, data.get("replay") is True)
        except (ValueError, TypeError, KeyError) as exc:
            raise MalformedMessage(f"not a delivery message: {exc}") from None


class Verdict(StrEnum):
    SUCCESS = "success"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    """What one POST to the webhook came to."""

    verdict: Verdict
    status_code: int | None = None
    error: str | None = None
    latency_ms: float = 0.0
    retry_after: timedelta | None = None
    response_body: str | None = None
    """The start of the receiver's reply (`response_excerpt`); None without a reply, and from
    a queue, a topic or a bus."""

    @property
    def reason(self) -> str:
        """A short description for logs, the ledger and `failure_reason`."""
        if self.status_code is not None:
            return f"HTTP {self.status_code}" + (f": {self.error}" if self.error else "")
        return self.error or "unknown error"


RESPONSE_EXCERPT_BYTES = 1024


def response_excerpt(body: bytes) -> str:
    """The reply's first KB as text, for the ledger and the console: UTF-8, and anything
    undecodable (a character cut at the end included) as U+FFFD, never an error."""
    return body[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")


def verdict_for_status(status: int) -> Verdict:
    """2xx succeeds; 408, 425, 429 and 5xx may succeed later; anything else never will."""
    if 200 <= status < 300:
        return Verdict.SUCCESS
    if status in TRANSIENT_STATUSES or 500 <= status < 600:
        return Verdict.TRANSIENT
    return Verdict.PERMANENT


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None when unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": half the step is fixed, half random.

    Full jitter can draw ~0 s and hammer a struggling receiver; equal jitter still spreads
    retries of a whole batch while keeping a floor.
    """

    base: timedelta
    cap: timedelta

    def delay(
        self, attempt: int, retry_after: timedelta | None = None, rng: random.Random | None = None
    ) -> timedelta:
        """The wait after failed attempt number `attempt` (1-based), within SQS's visibility limit."""
        step = min(self.cap, self.base * (2 ** min(max(attempt - 1, 0), 32)))
        jitter = (rng or random).random()
        wait = step / 2 + step / 2 * jitter
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, SQS_MAX_VISIBILITY)  # type: ignore[no-any-return]
