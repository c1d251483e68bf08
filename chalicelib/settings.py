"""One frozen Settings, read from the environment once, when first needed (never at import)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta

from chalicelib.domain import event_types
from chalicelib.domain.occurrence import LeapDayPolicy
from chalicelib.domain.schedule import Schedule

STAGES = ("local", "dev", "staging", "prod")
_DURATION = re.compile(r"(?P<n>[0-9]+)(?P<unit>[smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingsError(ValueError):
    """An environment variable has a value the application cannot use."""


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    database_url: str | None = None
    db_pool_size: int = 4
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
            delivery_times=_delivery_times(env),
            leap_day_policy=_leap_day_policy(env.get("LEAP_DAY_POLICY", "mar1")),
            max_event_age=_max_event_age(env.get("MAX_EVENT_AGE", "7d")),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            queue_url=env.get("QUEUE_URL") or None,
            dlq_url=env.get("DLQ_URL") or None,
            ledger_table=env.get("LEDGER_TABLE", "event-scheduler-deliveries"),
            webhook_url=env.get("WEBHOOK_URL") or None,
            webhook_secret=env.get("WEBHOOK_SECRET") or None,
        )

    def schedule(self) -> Schedule:
        return Schedule(self.delivery_times, self.leap_day_policy)


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
