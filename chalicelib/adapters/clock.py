"""The system's clock, shifted by CLOCK_OFFSET on the local stack (settings.clock_offset)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def sleep_until(self, instant: datetime) -> None:
        time.sleep(max(0.0, (instant - self.now()).total_seconds()))
