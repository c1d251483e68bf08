"""GET /overview: what is due, what finished, how late, the queues and the last sweep.

The counts come from PostgreSQL in one transaction (`counts`, what scripts/bench_overview.py
times), the queues' from SQS. A queue that cannot be read leaves its numbers null and says
why: the rest of the picture is what an on-call engineer needs most when SQS is the trouble.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.overview import (
    Finished,
    Lateness,
    Overview,
    QueueCounts,
    Window,
    due_hours,
    finished_hours,
)
from chalicelib.ports import Clock, Database, Queue

_MAX_ERROR = 200


@dataclass(frozen=True)
class Counts:
    due: list[tuple[datetime, int]]
    finished: list[Finished]
    lateness: Lateness
    last_sweep: datetime | None


def counts(db: Database, window: Window) -> Counts:
    with db.transaction() as store:
        due = store.due_by_hour(window.ahead(), window.due_until)
        finished = store.finished_by_hour(window.behind(), window.finished_until)
        lateness = store.lateness(window.finished_since, window.finished_until)
        last_sweep = store.last_sweep()
    return Counts(due_hours(window, due), finished_hours(window, finished), lateness, last_sweep)


def read_overview(
    db: Database, clock: Clock, queue: Callable[[], Queue], dlq: Callable[[], Queue]
) -> Overview:
    """`queue` and `dlq` are asked for here, so a queue the API is not configured for (no
    DLQ_URL) is one more reason in `queue_error`, not a failed request."""
    now = clock.now()
    found = counts(db, Window(now))
    errors: list[str] = []
    depth = _read("the delivery queue", lambda: queue().counts(), errors)
    dead = _read("the dead-letter queue", lambda: dlq().counts(), errors)
    return Overview(
        generated_at=now,
        due=found.due,
        finished=found.finished,
        lateness=found.lateness,
        queue=depth,
        dlq=None if dead is None else dead.total,
        queue_error="; ".join(errors) or None,
        last_sweep=found.last_sweep,
    )


def _read(name: str, read: Callable[[], QueueCounts], errors: list[str]) -> QueueCounts | None:
    try:
        return read()
    except Exception as exc:
        from chalicelib import observability as obs  # here: importing the API loads no Powertools

        obs.log().warning("queue not read for the overview", extra={"queue": name, "error": str(exc)[:300]})
        errors.append(f"{name} could not be read: {type(exc).__name__}: {exc}"[:_MAX_ERROR])
        return None


@dataclass(frozen=True)
class Overviews:
    """The overview bound to its ports: what the container builds and the route calls. The
    queues are built only when the overview is read."""

    db: Database
    clock: Clock
    queue: Callable[[], Queue]
    dlq: Callable[[], Queue]

    def read(self) -> Overview:
        return read_overview(self.db, self.clock, self.queue, self.dlq)
