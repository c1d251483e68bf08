"""One frozen Settings, read from the environment once, when first needed (never at import)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum

from chalicelib.domain import event_types
from chalicelib.domain.builtins import BuiltIns
from chalicelib.domain.occurrence import LeapDayPolicy

STAGES = ("local", "dev", "staging", "prod")
_DURATION = re.compile(r"(?P<n>[0-9]+)(?P<unit>[smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


# Signs local tokens (scripts/mint_token.py) when STAGE=local and neither JWT_SECRET nor JWKS_URL is
# set. Public on purpose; any other stage refuses it and must be given its own key material.
LOCAL_JWT_SECRET = "event-scheduler-local-only-secret-never-deployed"  # noqa: S105
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key is at least as long as the hash
MAX_LEEWAY = timedelta(minutes=5)  # clock skew, not a way to stretch a token's life
MAX_JWKS_AGE = timedelta(days=1)  # a revoked key must stop verifying within a day at worst


# The delivery queue's redrive count (SQS maxReceiveCount), for the CDK, the local stack and
# this check alike. Well above MAX_ATTEMPTS: a receive that ends in an error before any POST
# (the database or the ledger down) must not spend SQS's budget and dead-letter a message the
# worker never tried. With the worker's backoff capped at 15 min (equal jitter: at least 7.5 min
# a receive), the 90 receives above 10 attempts ride out at least ~11 h of outage; the queue
# keeps messages 4 days, and the lease re-queues anything lost. SQS allows up to 1,000.
DLQ_MAX_RECEIVE_COUNT = 100
MAX_SWEEP_LOOKAHEAD = timedelta(seconds=900)  # SQS DelaySeconds stops there


class SettingsError(ValueError):
    """An environment variable has a value the application cannot use."""


class AuthMode(StrEnum):
    JWT = "jwt"
    OFF = "off"  # every request is an admin: STAGE=local only, and only when asked for


@dataclass(frozen=True)
class AuthSettings:
    """How the authorizer verifies tokens: HS256 with `jwt_secret`, or RS256 from `jwks_url`."""

    mode: AuthMode = AuthMode.JWT
    jwt_secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway: timedelta = timedelta(seconds=30)
    roles_claim: str = "roles"
    jwks_min_refresh: timedelta = timedelta(seconds=30)
    """An unknown `kid` refetches the key set at most this often, so junk tokens cannot flood it."""
    jwks_max_age: timedelta = timedelta(minutes=10)
    """The key set is refetched once older than this, so a key the provider revokes stops
    verifying within it (plus the authorizer's 300 s result cache)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> AuthSettings:
        mode = env.get("AUTH_MODE", "jwt")
        if mode not in {m.value for m in AuthMode}:
            raise SettingsError(f"AUTH_MODE must be jwt or off, not {mode!r}")
        secret, jwks_url = env.get("JWT_SECRET") or None, env.get("JWKS_URL") or None
        if secret and jwks_url:
            raise SettingsError("set JWT_SECRET (HS256) or JWKS_URL (RS256), not both")
        return cls(
            mode=AuthMode(mode),
            jwt_secret=secret,
            jwks_url=jwks_url,
            issuer=env.get("JWT_ISSUER") or None,
            audience=env.get("JWT_AUDIENCE") or None,
            leeway=parse_duration("JWT_LEEWAY", env.get("JWT_LEEWAY", "30s")),
            roles_claim=env.get("JWT_ROLES_CLAIM") or "roles",
            jwks_max_age=parse_duration("JWKS_MAX_AGE", env.get("JWKS_MAX_AGE") or "10m"),
        )

    def check(self, stage: str) -> None:
        if self.mode is AuthMode.OFF and stage != "local":
            raise SettingsError(f"AUTH_MODE=off is honoured only when STAGE=local, and STAGE is {stage}")
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        if not self.jwks_min_refresh <= self.jwks_max_age <= MAX_JWKS_AGE:
            raise SettingsError(
                f"JWKS_MAX_AGE must be from {self.jwks_min_refresh.total_seconds():.0f}s "
                f"to {MAX_JWKS_AGE.total_seconds():.0f}s"
            )
        if self.leeway > MAX_LEEWAY:
            raise SettingsError(f"JWT_LEEWAY must be at most {MAX_LEEWAY.total_seconds():.0f}s")
        if self.jwt_secret == LOCAL_JWT_SECRET and stage != "local":
            raise SettingsError(f"the local development JWT secret cannot be used when STAGE is {stage}")

    def secret_for(self, stage: str) -> str | None:
        """The HS256 secret in force: the configured one, else the local default on STAGE=local."""
        if self.jwt_secret or self.jwks_url:
            return self.jwt_secret
        return LOCAL_JWT_SECRET if stage == "local" else None


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    database_url: str | None = None
    db_pool_size: int = 4
    db_prepare_threshold: int | None = 5
    """psycopg prepares a statement after this many runs; None (`DB_PREPARE_THRESHOLD=off`,
    the cloud stages) never does, as RDS Proxy pins a session that prepares."""
    delivery_times: Mapping[str, time] = field(default_factory=dict)
    leap_day_policy: LeapDayPolicy = LeapDayPolicy.MAR1
    max_event_age: timedelta = timedelta(days=7)
    # The delivery pipeline. boto3 itself honours AWS_ENDPOINT_URL (the local emulator).
    aws_region: str = "us-east-1"
    queue_url: str | None = None
    dlq_url: str | None = None
    ledger_table: str = "event-scheduler-deliveries"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    aws_endpoint_url: str | None = None
    """The AWS emulator (moto, LocalStack); None means real AWS."""
    lease: timedelta = timedelta(minutes=15)
    """How long a claimed event may stay PROCESSING before the sweeper sends it again; longer
    than the queue's visibility timeout plus the wait in a backlog."""
    max_attempts: int = 10
    backoff_base: timedelta = timedelta(seconds=10)
    backoff_cap: timedelta = timedelta(minutes=15)
    sweep_batch_size: int = 500
    sweep_time_budget: timedelta = timedelta(seconds=50)
    sweep_send_concurrency: int = 8
    sweep_lookahead: timedelta = timedelta(seconds=150)
    """How far ahead of now a sweep claims (sent with SQS DelaySeconds): it must cover the gap
    to the next run, which EventBridge may fire anywhere in its minute (docs/delivery.md, "The pipeline")."""
    audience_lookahead: timedelta = timedelta(minutes=10)
    """How far ahead of now a sweep writes audience schedules' occurrences as claimed events
    (at most 15 minutes: SQS's longest delay)."""
    audience_batch_size: int = 5000
    audience_time_budget: timedelta = timedelta(seconds=20)
    """The part of a sweep's budget audiences may take; the claims keep the rest."""
    audience_concurrency: int = 2
    """Zones a sweep writes at once, each on its own connection (the sweep's pool grows to it)."""
    webhook_connect_timeout: float = 2.0
    webhook_read_timeout: float = 5.0
    webhook_concurrency: int = 10
    """POSTs one worker container has in flight at once (a batch is at most 10 messages)."""
    endpoint_allowed_arns: tuple[str, ...] | None = None
    """The AWS destinations an endpoint may name (ARN patterns, `*` any run of characters);
    None, the local stage's default, takes any (its own emulator's)."""
    endpoint_disable_after: timedelta = timedelta(days=5)
    """An endpoint whose every delivery has failed for this long is disabled."""
    ops_topic_arn: str | None = None
    """Where operational events about endpoints go (SNS); None: the log only."""
    endpoint_private_urls: bool = True
    """Whether a webhook endpoint may be http and name a loopback or private address: the local
    stage's default; the cloud stages want https to public addresses."""
    auth: AuthSettings = field(default_factory=AuthSettings)
    clock_offset: timedelta = timedelta(0)
    """Local stack only: shifts "now", so a newcomer need not wait for 09:00 to see a delivery
    and the e2e test can let time pass while the stack is down."""

    def __post_init__(self) -> None:
        self.auth.check(self.stage)
        if self.max_attempts >= DLQ_MAX_RECEIVE_COUNT:
            raise SettingsError(
                f"MAX_ATTEMPTS must be below the DLQ redrive count ({DLQ_MAX_RECEIVE_COUNT}), "
                f"not {self.max_attempts}"
            )
        if self.clock_offset and self.stage != "local":
            raise SettingsError(f"CLOCK_OFFSET is for the local stack only, not STAGE={self.stage}")
        if self.webhook_url and not self.webhook_secret and self.stage != "local":
            # Receivers verify webhook-signature; an unsigned webhook from a deployed stage is
            # one anybody could have sent. Only the worker has WEBHOOK_URL, so only it checks.
            raise SettingsError(
                f"WEBHOOK_SECRET is not set: STAGE={self.stage} signs every webhook "
                "(set WEBHOOK_SECRET, or WEBHOOK_SECRET_ARN naming the secret in AWS)"
            )
        if not timedelta(0) <= self.sweep_lookahead <= MAX_SWEEP_LOOKAHEAD:
            raise SettingsError(
                "SWEEP_LOOKAHEAD must be from 0s to 900s (SQS's longest DelaySeconds), "
                f"not {self.sweep_lookahead}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        stage = env.get("STAGE", "local")
        if stage not in STAGES:
            raise SettingsError(f"STAGE must be one of {', '.join(STAGES)}, not {stage!r}")
        return cls(
            stage=stage,
            database_url=env.get("DATABASE_URL") or None,
            db_pool_size=parse_count("DB_POOL_SIZE", env.get("DB_POOL_SIZE", "4")),
            db_prepare_threshold=_prepare_threshold(env.get("DB_PREPARE_THRESHOLD", "5")),
            delivery_times=_delivery_times(env),
            leap_day_policy=_leap_day_policy(env.get("LEAP_DAY_POLICY", "mar1")),
            max_event_age=_max_event_age(env.get("MAX_EVENT_AGE", "7d")),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            queue_url=env.get("QUEUE_URL") or None,
            dlq_url=env.get("DLQ_URL") or None,
            ledger_table=env.get("LEDGER_TABLE", "event-scheduler-deliveries"),
            webhook_url=env.get("WEBHOOK_URL") or None,
            webhook_secret=env.get("WEBHOOK_SECRET") or None,
            auth=AuthSettings.from_env(env, stage),
            clock_offset=_clock_offset(env.get("CLOCK_OFFSET", "")),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            lease=_duration(env, "DELIVERY_LEASE", "15m"),
            max_attempts=_positive(env, "MAX_ATTEMPTS", "10"),
            backoff_base=_duration(env, "BACKOFF_BASE", "10s"),
            backoff_cap=_duration(env, "BACKOFF_CAP", "15m"),
            sweep_batch_size=_positive(env, "SWEEP_BATCH_SIZE", "500"),
            sweep_time_budget=_duration(env, "SWEEP_TIME_BUDGET", "50s"),
            sweep_send_concurrency=_positive(env, "SWEEP_SEND_CONCURRENCY", "8"),
            sweep_lookahead=_duration(env, "SWEEP_LOOKAHEAD", "150s"),
            audience_lookahead=_duration(env, "AUDIENCE_LOOKAHEAD", "10m"),
            audience_batch_size=_positive(env, "AUDIENCE_BATCH_SIZE", "5000"),
            audience_time_budget=_duration(env, "AUDIENCE_TIME_BUDGET", "20s"),
            audience_concurrency=_positive(env, "AUDIENCE_CONCURRENCY", "2"),
            webhook_connect_timeout=_seconds(env, "WEBHOOK_CONNECT_TIMEOUT", "2"),
            webhook_read_timeout=_seconds(env, "WEBHOOK_READ_TIMEOUT", "5"),
            webhook_concurrency=_positive(env, "WEBHOOK_CONCURRENCY", "10"),
            endpoint_disable_after=_duration(env, "ENDPOINT_DISABLE_AFTER", "5d"),
            ops_topic_arn=env.get("OPS_TOPIC_ARN") or None,
            endpoint_allowed_arns=_arn_patterns(env.get("ENDPOINT_ALLOWED_ARNS"), stage),
            endpoint_private_urls=_flag(env, "ENDPOINT_PRIVATE_URLS", str(stage == "local").lower()),
        )

    def builtins(self) -> BuiltIns:
        return BuiltIns(self.delivery_times, self.leap_day_policy)


def _arn_patterns(value: str | None, stage: str) -> tuple[str, ...] | None:
    """Comma-separated ARN patterns; unset is "any" locally and "none" in a cloud stage."""
    if value is None:
        return None if stage == "local" else ()
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _flag(env: Mapping[str, str], name: str, default: str) -> bool:
    value = env.get(name, default).strip().lower()
    if value not in ("true", "false"):
        raise SettingsError(f"{name} must be true or false, not {value!r}")
    return value == "true"


def parse_duration(name: str, value: str) -> timedelta:
    """`90`, `90s`, `15m`, `36h` or `7d`."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise SettingsError(f"{name} must be a duration like 90s, 15m, 36h or 7d, not {value!r}")
    return timedelta(seconds=int(match["n"]) * _UNIT_SECONDS[match["unit"]])


def parse_count(name: str, value: str) -> int:
    """A whole number of at least 1 (ASCII digits only)."""
    text = value.strip()
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise SettingsError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(text)


def _duration(env: Mapping[str, str], name: str, default: str) -> timedelta:
    return parse_duration(name, env.get(name) or default)


def _positive(env: Mapping[str, str], name: str, default: str) -> int:
    return parse_count(name, env.get(name) or default)


def _seconds(env: Mapping[str, str], name: str, default: str) -> float:
    value = env.get(name) or default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise SettingsError(f"{name} must be a number of seconds above 0, not {value!r}")
    return seconds


def _prepare_threshold(value: str) -> int | None:
    return None if value.strip().lower() == "off" else parse_count("DB_PREPARE_THRESHOLD", value)


def _clock_offset(value: str) -> timedelta:
    """`CLOCK_OFFSET=2h`, `+90s` or `-15m`."""
    text = value.strip()
    if not text:
        return timedelta(0)
    sign = -1 if text.startswith("-") else 1
    return sign * parse_duration("CLOCK_OFFSET", text.lstrip("+-"))


def parse_time(name: str, value: str) -> time:
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{name} must be a time like 09:00, not {value!r}") from None
    if parsed.tzinfo is not None:  # the offset would be silently replaced by the user's zone
        raise SettingsError(f"{name} is a wall time in each user's zone; give no offset, not {value!r}")
    return parsed


def _max_event_age(value: str) -> timedelta:
    age = parse_duration("MAX_EVENT_AGE", value)
    if not age:  # zero would skip every event as too old
        raise SettingsError(f"MAX_EVENT_AGE must be longer than zero, not {value!r}")
    return age


def _delivery_times(env: Mapping[str, str]) -> dict[str, time]:
    """`DELIVERY_TIME_BIRTHDAY=09:00` and so on, one variable per registered event type."""
    times = {}
    for name in event_types.REGISTRY:
        variable = f"DELIVERY_TIME_{name.upper()}"
        if env.get(variable):
            times[name] = parse_time(variable, env[variable])
    return times


def _leap_day_policy(value: str) -> LeapDayPolicy:
    try:
        return LeapDayPolicy(value)
    except ValueError:
        raise SettingsError(f"LEAP_DAY_POLICY must be mar1 or feb28, not {value!r}") from None
