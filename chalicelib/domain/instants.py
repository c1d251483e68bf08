"""How the API, the webhook body and the ledger write an instant: ISO 8601 in UTC ending in
`Z`, whole seconds when the instant has no fraction (targets), milliseconds otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.zones import zone


def iso_local(instant: datetime, timezone: str) -> str:
    """ISO 8601 with the zone's offset at that instant (`2026-03-08T03:30:00-04:00`)."""
    spec = "seconds" if instant.microsecond == 0 else "milliseconds"
    return instant.astimezone(zone(timezone)).isoformat(timespec=spec)


def iso_utc(instant: datetime) -> str:
    spec = "seconds" if instant.microsecond == 0 else "milliseconds"
    return instant.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")
