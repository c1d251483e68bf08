"""How the API, the webhook body and the ledger write an instant: ISO 8601 in UTC ending in
`Z`, whole seconds when the instant has no fraction (targets), milliseconds otherwise."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(instant: datetime) -> str:
    spec = "seconds" if instant.microsecond == 0 else "milliseconds"
    return instant.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")
