"""Where events go: a team's endpoints, each a destination, the event types it takes, and the
secrets that sign what is sent to it. Pure: secrets are drawn by the service, times are given.

The built-in endpoint (WEBHOOK_URL and WEBHOOK_SECRET, set at deploy time) is not a row: it
takes every type and keeps the event's own idempotency key as `webhook-id`, so a deployment
that had only it sees no change (`delivery_key`).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

DEFAULT_GRACE = timedelta(days=1)
MAX_GRACE = timedelta(days=7)
MAX_RATE_LIMIT = 10_000
MAX_DESCRIPTION = 500
_PAIR_NAMESPACE = uuid.UUID("6f1c2a8e-3b4d-5e6f-8a9b-0c1d2e3f4a5b")


class DestinationType(StrEnum):
    WEBHOOK = "webhook"
    SQS = "sqs"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"


TARGET_FIELD = {
    DestinationType.WEBHOOK: "url",
    DestinationType.SQS: "queueUrl",
    DestinationType.SNS: "topicArn",
    DestinationType.EVENTBRIDGE: "eventBusName",
}
"""Each destination's one field naming where it sends."""


@dataclass(frozen=True)
class Destination:
    type: DestinationType
    target: str
    """The URL, queue URL, topic ARN or bus name (TARGET_FIELD)."""

    def as_json(self) -> dict[str, str]:
        return {"type": self.type.value, TARGET_FIELD[self.type]: self.target}


@dataclass(frozen=True)
class Secret:
    """A signing secret (`whsec_` + base64); one with an expiry is an old one in its grace."""

    value: str
    created_at: datetime
    expires_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class EndpointFields:
    """What a client sets on an endpoint."""

    destination: Destination
    event_types: tuple[str, ...] | None = None
    """None: every type."""
    description: str = ""
    rate_limit: int | None = None
    """Deliveries per second, or None for no limit."""


@dataclass(frozen=True)
class Endpoint:
    id: UUID
    fields: EndpointFields
    secrets: tuple[Secret, ...]
    """Newest first: the first signs; the others, until they expire, sign too."""
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = None
    """Since when every delivery to it has failed; None while its last one succeeded."""
    disabled_at: datetime | None = None

    def enable(self, now: datetime) -> Endpoint:
        """POST /endpoints/{id}/enable: delivered to again, its failing clock started afresh."""
        return replace(
            self, enabled=True, failing_since=None, disabled_at=None, version=self.version + 1, updated_at=now
        )

    def takes(self, event_type: str) -> bool:
        return self.enabled and (self.fields.event_types is None or event_type in self.fields.event_types)

    def secrets_in_force(self, now: datetime) -> tuple[Secret, ...]:
        return tuple(s for s in self.secrets if s.in_force(now))

    def change(self, fields: EndpointFields, now: datetime) -> Endpoint:
        return replace(self, fields=fields, version=self.version + 1, updated_at=now)

    def rotate(self, new_secret: str, grace: timedelta, now: datetime) -> Endpoint:
        """`new_secret` signs from now; the ones in force keep signing until `now + grace` (or
        their own earlier expiry); the expired ones are forgotten."""
        until = now + grace
        kept = tuple(
            replace(s, expires_at=until if s.expires_at is None else min(s.expires_at, until))
            for s in self.secrets_in_force(now)
            if grace > timedelta(0)
        )
        return replace(
            self, secrets=(Secret(new_secret, now), *kept), version=self.version + 1, updated_at=now
        )


RATE_BURST = timedelta(milliseconds=400)
"""How far ahead of its schedule an endpoint's deliveries may run: over any T seconds at most
(T + 0.4) x rateLimit + 1 go out, so over 10 s the limit x 1.04 + 1. The promise is the limit x
1.05 + 1 as the receiver counts: the tenth of a second between is for the network's jitter (at
exactly 0.5, a receiver stamping arrivals saw one over: docs/performance.md)."""


RATE_AHEAD = timedelta(seconds=1)
"""How far ahead a worker takes an endpoint's slots, each delivery then waiting in the worker
for its own (`Slots.at`): SQS brings a held message back only after whole seconds, so taking
only the slots free at once left most of each second unused (at 50 a second, 26-39 went out)."""


@dataclass(frozen=True)
class Slots:
    """What an endpoint's rate limit makes of a batch's deliveries to it."""

    at: list[datetime]
    """When each granted delivery may go, in order: the first free slot's time, then one
    interval after another, each as early as the burst lets it."""
    waits: list[timedelta]
    """How long each held delivery (the rest, in order) waits before it comes back: the k-th
    until the k-th slot after the granted ones, so that held deliveries come back spread over
    the seconds their slots take, not all at the first free one (where all but a few would be
    held again)."""
    tat: datetime
    """The endpoint's next free slot after the granted ones."""


def take_slots(
    tat: datetime, now: datetime, rate: int, wanted: int, ahead: timedelta = timedelta(0)
) -> Slots:
    """GCRA (the generic cell rate algorithm): of `wanted` deliveries to an endpoint limited to
    `rate` a second whose next free slot is `tat`, those that may go by `now + ahead`."""
    interval = timedelta(seconds=1) / rate
    base = max(tat, now)
    until = now + ahead + RATE_BURST
    room = (until - base) // interval + 1 if base <= until else 0
    granted = max(0, min(wanted, room))
    after = base + interval * granted
    return Slots(
        at=[max(now, base + interval * i - RATE_BURST) for i in range(granted)],
        waits=[max(after + interval * k - RATE_BURST - now, timedelta(0)) for k in range(wanted - granted)],
        tat=after,
    )


@dataclass(frozen=True)
class DestinationRules:
    """What a stage lets an endpoint name (settings: ENDPOINT_ALLOWED_ARNS,
    ENDPOINT_PRIVATE_URLS)."""

    region: str
    allowed_arns: tuple[str, ...] | None = None
    """ARN patterns (`*`: any run of characters); None takes any."""
    private_urls: bool = True

    def problem(self, destination: Destination) -> str | None:
        """Why this stage refuses the destination, or None."""
        if destination.type is DestinationType.WEBHOOK:
            return self._url_problem(destination.target)
        arn = destination_arn(destination, self.region)
        if self.allowed_arns is None or any(_arn_matches(arn, p) for p in self.allowed_arns):
            return None
        return f"{arn} is not among this stage's allowed destinations (ENDPOINT_ALLOWED_ARNS)"

    def _url_problem(self, url: str) -> str | None:
        parts = urlsplit(url)
        if self.private_urls:
            return None
        if parts.scheme != "https":
            return "must be an https:// URL"
        host = (parts.hostname or "").rstrip(".").lower()
        if host == "localhost" or host.endswith((".localhost", ".internal")):
            return "must not name a loopback or internal host"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked when it is connected to
        return None if address.is_global else "must not name a loopback, private or link-local address"


def destination_arn(destination: Destination, region: str) -> str:
    """The ARN a destination sends to, as the stage's allowed list names it. A queue's is read
    from its URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`); a bus named by name is
    `arn:aws:events:<region>:*:event-bus/<name>` (its account is the stage's own)."""
    target = destination.target
    if destination.type is DestinationType.SQS:
        parts = urlsplit(target)
        account, _, name = parts.path.strip("/").partition("/")
        host = parts.hostname or ""
        queue_region = host.split(".")[1] if host.startswith("sqs.") and host.count(".") >= 2 else region
        return f"arn:aws:sqs:{queue_region}:{account}:{name}"
    if destination.type is DestinationType.EVENTBRIDGE and not target.startswith("arn:"):
        return f"arn:aws:events:{region}:*:event-bus/{target}"
    return target


def _arn_matches(arn: str, pattern: str) -> bool:
    """Part by part; an account of `*` in `arn` (a bus named by name) is the stage's own, which
    any account in the pattern may name."""
    arn_parts, pattern_parts = arn.split(":", 5), pattern.split(":", 5)
    if len(arn_parts) != len(pattern_parts):
        return fnmatch.fnmatchcase(arn, pattern)
    return all(
        (i == 4 and a == "*") or fnmatch.fnmatchcase(a, p)
        for i, (a, p) in enumerate(zip(arn_parts, pattern_parts, strict=True))
    )


def delivery_key(event_key: str, endpoint_id: UUID | None) -> str:
    """The key (and `webhook-id`) of one (event, endpoint) pair, a UUID like the event's own:
    stable across retries, crashes and redeliveries. The built-in endpoint (None) keeps the
    event's key."""
    if endpoint_id is None:
        return event_key
    return str(uuid.uuid5(_PAIR_NAMESPACE, f"{event_key}/{endpoint_id}"))


STATS_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class AttemptFacts:
    """What the stats need of one attempt (the ledger's `Attempt`, seen from the domain)."""

    at: datetime
    success: bool
    latency_ms: float
    error: str | None


@dataclass(frozen=True)
class EndpointStats:
    deliveries: int
    successes: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    last_error: str | None
    last_error_at: datetime | None


def endpoint_stats(attempts: list[AttemptFacts]) -> EndpointStats:
    """Over the attempts given (the last 24 hours'): counts, the median and 95th percentile
    response time (nearest rank), and the last failure's reason and time."""
    latencies = sorted(a.latency_ms for a in attempts)
    failed = [a for a in attempts if not a.success]
    last = sorted(failed, key=lambda a: a.at)[-1] if failed else None  # ties: the later given

    def rank(p: float) -> float | None:
        return latencies[max(0, math.ceil(p * len(latencies)) - 1)] if latencies else None

    return EndpointStats(
        len(attempts),
        len(attempts) - len(failed),
        len(failed),
        rank(0.5),
        rank(0.95),
        last.error if last else None,
        last.at if last else None,
    )
