"""An endpoint down for longer than ENDPOINT_DISABLE_AFTER (shortened here to 90 s): it is
marked failing at its first failure, disabled once that has lasted, its deliveries held (not
attempted) while the other endpoints get theirs; enabled again, it gets what was held, and
recovered, what failed before, each event once, with the webhook-id it was first tried with,
counted late; a second recovery sends nothing; a replay sends one event again, same id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.postgres import Database
from chalicelib.domain.endpoints import Destination, DestinationType, EndpointFields, delivery_key
from chalicelib.domain.events import Status
from chalicelib.services import endpoints
from chalicelib.settings import Settings
from scripts.devstack.clock import ManualClock
from scripts.devstack.webhook_sink import Reply, WebhookSink
from tests.integration.pipeline.support import Pipeline

DAY_ONE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class RecordedNotices:
    seen: list[tuple[str, UUID, datetime]] = field(default_factory=list)

    def publish(self, kind: str, endpoint_id: UUID, at: datetime, detail: str = "") -> None:
        self.seen.append((kind, endpoint_id, at))


@pytest.fixture
def crm() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def counts(capsys: pytest.CaptureFixture[str], *names: str) -> tuple[int, ...]:
    """How many values of each metric the EMF documents printed since the last call hold."""
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    found = [[d[name] for d in documents if "_aws" in d and name in d] for name in names]
    return tuple(sum(len(v) if isinstance(v, list) else 1 for v in values) for values in found)


def test_an_endpoint_down_past_the_window_is_disabled_held_and_recovered_with_nothing_lost_or_doubled(
    pipeline_settings: Settings,
    clock: ManualClock,
    db: Database,
    sink: WebhookSink,
    crm: WebhookSink,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = replace(pipeline_settings, endpoint_disable_after=timedelta(seconds=90), max_attempts=3)
    notices = RecordedNotices()
    c = bootstrap.Container(settings, clock).use(db=db, notices=notices)
    bootstrap.install(c)
    try:
        p = Pipeline(c, clock, sink)
        endpoint = endpoints.create_endpoint(
            db, clock, EndpointFields(Destination(DestinationType.WEBHOOK, crm.url))
        )
        people = [p.user(date(1990, 3, day)) for day in (2, 3, 4)]
        crm.default = Reply(503)
        for day in range(3):  # three birthdays on three days; the CRM is down throughout
            p.at(DAY_ONE + timedelta(days=day))
            p.sweep()
            p.drain()
        events = [
            p.only(person.id, s)
            for person, s in zip(people, (Status.FAILED, Status.COMPLETED, Status.COMPLETED), strict=True)
        ]
        assert len(sink.requests) == 3  # the built-in endpoint had each, once
        assert len(crm.requests) == 3 + 1  # day one's three attempts, day two's first: then disabled
        assert {r.status for r in crm.requests} == {503}
        shown = endpoints.get_endpoint(db, endpoint.id)
        assert (shown.enabled, shown.failing_since, shown.disabled_at) == (
            False,
            DAY_ONE,
            DAY_ONE + timedelta(days=1),
        )
        assert [(k, at) for k, _, at in notices.seen] == [
            ("endpoint.failing", DAY_ONE),
            ("endpoint.disabled", DAY_ONE + timedelta(days=1)),
        ]
        assert events[0].failure_reason is not None
        assert events[0].failure_reason.startswith(f"endpoint {endpoint.id}: gave up after 3 attempts")

        crm.default = Reply(200)
        enabled_at = DAY_ONE + timedelta(days=3)
        p.at(enabled_at)
        capsys.readouterr()
        endpoints.enable_endpoint(db, clock, c.notices, c.queue, endpoint.id, c.settings.max_event_age)
        assert notices.seen[-1][0] == "endpoint.enabled"
        p.drain()  # what was held while it was disabled (days two and three), not day one's failure
        held = {delivery_key(e.idempotency_key, endpoint.id) for e in events[1:]}
        assert sorted(r.headers["webhook-id"] for r in crm.accepted()) == sorted(held)
        for before in events[1:]:  # two days late: the events count as late from now on
            after = p.event(before.id)
            assert (after.status, after.late, after.delivered_at) == (Status.COMPLETED, True, enabled_at)
            assert (before.late, after.version) == (False, before.version)
        assert counts(capsys, "Completed", "CompletedLate") == (2, 2)

        for _ in range(2):  # twice, at once: day one's event is sent once all the same
            assert endpoints.recover(db, clock, c.queue, endpoint.id, DAY_ONE - timedelta(days=1)) == 3
        p.drain()
        accepted = [r for r in crm.requests if r.accepted]
        expected = {delivery_key(e.idempotency_key, endpoint.id) for e in events}
        assert sorted(r.headers["webhook-id"] for r in accepted) == sorted(expected)  # each once
        first_tried = {r.headers["webhook-id"] for r in crm.requests if not r.accepted}
        assert first_tried <= expected  # the ids it was first tried with
        assert [p.event(e.id).status for e in events] == [Status.FAILED, Status.COMPLETED, Status.COMPLETED]
        assert counts(capsys, "Completed", "CompletedLate") == (1, 1)  # what the ledger had: neither

        assert endpoints.recover(db, clock, c.queue, endpoint.id, DAY_ONE - timedelta(days=1)) == 3
        p.drain()
        assert len([r for r in crm.requests if r.accepted]) == 3  # nothing twice
        assert len(sink.requests) == 3  # and nothing to the built-in endpoint
        assert counts(capsys, "Completed", "CompletedLate") == (0, 0)

        endpoints.replay(db, c.queue, events[2].id, endpoint.id)
        p.drain()
        replayed = crm.requests[-1]
        assert replayed.headers["webhook-id"] == delivery_key(events[2].idempotency_key, endpoint.id)
        assert len([r for r in crm.requests if r.accepted]) == 4
    finally:
        bootstrap.install(None)
