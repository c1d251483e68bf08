"""GET /overview, translated: admin and service callers, the overview as JSON."""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib.api import http
from chalicelib.api.auth import principal, require
from chalicelib.api.users import Context
from chalicelib.domain.access import Action
from chalicelib.domain.instants import iso_utc
from chalicelib.domain.overview import Finished, Overview
from chalicelib.services.overview import Overviews


@http.translate_errors
def read(service: Overviews, context: Context) -> dict[str, Any] | Response:
    require(principal(context), Action.READ_OVERVIEW)
    return overview_json(service.read())


def overview_json(overview: Overview) -> dict[str, Any]:
    queue, age = overview.queue, overview.sweep_age
    return {
        "generatedAt": iso_utc(overview.generated_at),
        "due": [{"hour": iso_utc(hour), "count": count} for hour, count in overview.due],
        "delivered": [_finished_json(f) for f in overview.finished],
        "lateness": {
            "count": overview.lateness.count,
            "p50Seconds": _seconds(overview.lateness.p50_seconds),
            "p99Seconds": _seconds(overview.lateness.p99_seconds),
        },
        "queue": {
            "depth": queue.visible if queue else None,
            "inFlight": queue.in_flight if queue else None,
            "delayed": queue.delayed if queue else None,
            "dlq": overview.dlq,
        },
        "queueError": overview.queue_error,
        "sweep": {
            "lastAt": iso_utc(overview.last_sweep) if overview.last_sweep else None,
            # Whole seconds; never negative, though a sweep's clock may run ahead of the API's.
            "ageSeconds": None if age is None else max(0, round(age.total_seconds())),
        },
    }


def _finished_json(finished: Finished) -> dict[str, Any]:
    return {
        "hour": iso_utc(finished.hour),
        "completed": finished.completed,
        "failed": finished.failed,
        "skipped": finished.skipped,
        "late": finished.late,
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
