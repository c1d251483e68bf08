"""The sweeper's pure decisions: how long a claim's message waits in SQS, and how many expired
leases may be sent again.

The sweep claims ahead of time (a cron run fires at any second of its minute, so it takes what
falls due before the next run can) and sends each message with an SQS delay that ends at its
event's due time. A lease runs from when the event is due (`Event.lease_from`), so the delay
never eats into it.
"""

from __future__ import annotations

import math
from datetime import datetime

MAX_DELAY_SECONDS = 900
"""SQS's longest DelaySeconds."""


def send_delay(due_utc: datetime, now: datetime) -> int:
    """Whole seconds until `due_utc`, rounded up so a message never arrives early, 0-900."""
    return min(MAX_DELAY_SECONDS, max(0, math.ceil((due_utc - now).total_seconds())))


def resend_allowance(expecting_a_message: int, depth: int) -> int:
    """How many expired leases one sweep may send again.

    Every PROCESSING event that was sent should have a message in the queue (visible, in flight
    or delayed). Only when the queue holds fewer can a message have been lost, and only that
    many are sent again: under a backlog, a message that is merely late is never doubled.
    """
    return max(0, expecting_a_message - depth)
