"""Fan-out, exactly once per (event, endpoint), on PostgreSQL, moto and real HTTP receivers:
each endpoint whose types match gets one signed POST with a webhook-id of its own, the built-in
endpoint keeps the event's key, a failing endpoint is retried alone, a worker killed between
one endpoint's success and another's POSTs nothing twice, and an event no endpoint takes is
held, not lost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from chalicelib import bootstrap, handlers
from chalicelib.adapters.postgres import Database
from chalicelib.domain.endpoints import Destination, DestinationType, Endpoint, EndpointFields, delivery_key
from chalicelib.domain.events import Status
from chalicelib.ports import Delivery, Destinations, WebhookSender
from chalicelib.services import endpoints
from chalicelib.settings import Settings
from scripts.devstack import event_source
from scripts.devstack.clock import ManualClock
from scripts.devstack.webhook_sink import Reply, WebhookSink
from tests.integration.pipeline.conftest import SECRET
from tests.integration.pipeline.support import Pipeline, verify_standard_webhook

BIRTHDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sinks() -> Iterator[list[WebhookSink]]:
    with WebhookSink() as a, WebhookSink() as b, WebhookSink() as c:
        yield [a, b, c]


@pytest.fixture
def held(
    pipeline_settings: Settings, clock: ManualClock, db: Database, sinks: list[WebhookSink]
) -> Iterator[Pipeline]:
    """A pipeline without the built-in webhook (WEBHOOK_URL unset): only endpoints deliver."""
    settings = replace(pipeline_settings, webhook_url=None, webhook_secret=None)
    c = bootstrap.Container(settings, clock).use(db=db)
    bootstrap.install(c)
    try:
        yield Pipeline(c, clock, sinks[2])
    finally:
        bootstrap.install(None)


def endpoint(pipeline: Pipeline, sink: WebhookSink, types: tuple[str, ...] | None = None) -> Endpoint:
    fields = EndpointFields(Destination(DestinationType.WEBHOOK, sink.url), types)
    return endpoints.create_endpoint(pipeline.c.db, pipeline.clock, fields)


def secret(endpoint: Endpoint) -> str:
    return endpoint.secrets[0].value


def test_each_matching_endpoint_gets_one_post_with_its_own_id_and_signature(
    pipeline: Pipeline, sinks: list[WebhookSink]
) -> None:
    crm = endpoint(pipeline, sinks[0], ("birthday",))
    everything = endpoint(pipeline, sinks[1])
    billing = endpoint(pipeline, sinks[2], ("trial-ending",))
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    pipeline.sweep()
    assert pipeline.drain() == 1

    [builtin] = pipeline.sink.requests
    assert builtin.headers["webhook-id"] == event.idempotency_key  # as before endpoints existed
    assert verify_standard_webhook(SECRET, builtin.headers, builtin.body)
    ids = {builtin.headers["webhook-id"]}
    for sink, ep in ((sinks[0], crm), (sinks[1], everything)):
        [request] = sink.requests
        assert request.body == builtin.body
        key = delivery_key(event.idempotency_key, ep.id)
        assert request.headers["webhook-id"] == request.headers["idempotency-key"] == key
        assert verify_standard_webhook(secret(ep), request.headers, request.body)
        assert not verify_standard_webhook(SECRET, request.headers, request.body)  # not the built-in's
        ids.add(key)
    assert len(ids) == 3
    assert sinks[2].requests == []  # billing takes trial-ending only
    assert billing.fields.event_types == ("trial-ending",)

    done = pipeline.event(event.id)
    assert (done.status, done.attempts) == (Status.COMPLETED, 1)
    attempts = pipeline.c.ledger.attempts_for_event(event.id)
    assert sorted((a.endpoint_id or UUID(int=0), a.outcome) for a in attempts) == sorted(
        [(UUID(int=0), "success"), (crm.id, "success"), (everything.id, "success")]
    )


def test_a_failing_endpoint_is_retried_alone_and_the_event_completes_when_it_has_its_success(
    pipeline: Pipeline, sinks: list[WebhookSink]
) -> None:
    healthy, flaky = endpoint(pipeline, sinks[0]), endpoint(pipeline, sinks[1])
    sinks[1].script(Reply(503), Reply(429, {"Retry-After": "0"}))
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    pipeline.sweep()
    pipeline.drain()

    assert len(pipeline.sink.requests) == len(sinks[0].requests) == 1
    assert [r.status for r in sinks[1].requests] == [503, 429, 200]
    assert len({r.headers["webhook-id"] for r in sinks[1].requests}) == 1  # one id across retries
    done = pipeline.event(event.id)
    assert (done.status, done.attempts) == (Status.COMPLETED, 3)
    flaky_attempts = [a for a in pipeline.c.ledger.attempts_for_event(event.id) if a.endpoint_id == flaky.id]
    assert [a.outcome for a in flaky_attempts] == ["transient", "transient", "success"]

    figures = endpoints.stats(pipeline.c.db, pipeline.clock, pipeline.c.ledger, flaky.id)
    assert (figures.deliveries, figures.successes, figures.failures) == (3, 1, 2)
    # Both failures carry the test clock's one instant: either may count as the last.
    assert figures.last_error in {"HTTP 503: Service Unavailable", "HTTP 429: Too Many Requests"}
    assert figures.last_error_at == flaky_attempts[1].attempted_at
    assert figures.p50_ms is not None
    assert figures.p95_ms is not None
    assert figures.p50_ms <= figures.p95_ms
    calm = endpoints.stats(pipeline.c.db, pipeline.clock, pipeline.c.ledger, healthy.id)
    assert (calm.deliveries, calm.successes, calm.failures, calm.last_error) == (1, 1, 0, None)
    pipeline.at(BIRTHDAY + timedelta(hours=24, seconds=1))
    assert endpoints.stats(pipeline.c.db, pipeline.clock, pipeline.c.ledger, flaky.id).deliveries == 0


def test_an_endpoint_that_refuses_for_good_fails_the_event_naming_it_after_the_others_have_it(
    pipeline: Pipeline, sinks: list[WebhookSink]
) -> None:
    endpoint(pipeline, sinks[0])
    refusing = endpoint(pipeline, sinks[1])
    sinks[1].default = Reply(410)
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    pipeline.sweep()
    pipeline.drain()

    assert len(pipeline.sink.requests) == len(sinks[0].requests) == len(sinks[1].requests) == 1
    failed = pipeline.event(event.id)
    assert failed.status is Status.FAILED
    assert failed.failure_reason == f"endpoint {refusing.id}: HTTP 410: Gone"
    assert pipeline.only(user.id, Status.PENDING).target_utc.year == 2027  # next year still comes


@dataclass
class KilledAt:
    """The worker's process dies (BaseException: nothing catches it) when it is about to send
    to one endpoint: the ones before it in the batch have their success in the ledger."""

    real: Destinations
    victim: UUID
    armed: bool = True

    def sender_for(self, ep: Endpoint, now: datetime) -> WebhookSender:
        sender = self.real.sender_for(ep, now)
        return Dies(sender, self) if ep.id == self.victim else sender


@dataclass
class Dies:
    inner: WebhookSender
    switch: KilledAt

    def deliver(self, delivery: Delivery) -> object:
        if self.switch.armed:
            self.switch.armed = False
            raise SystemExit("the worker was killed")
        return self.inner.deliver(delivery)


def test_a_worker_killed_between_one_endpoints_success_and_anothers_posts_nothing_twice(
    pipeline: Pipeline, sinks: list[WebhookSink]
) -> None:
    made = sorted([endpoint(pipeline, sinks[0]), endpoint(pipeline, sinks[1])], key=lambda e: e.id)
    first, last = made  # pairs go in id order: the first is sent before the worker dies
    sink_of = {ep.id: next(s for s in sinks if s.url == ep.fields.destination.target) for ep in made}
    switch = KilledAt(pipeline.c.destinations, last.id)
    pipeline.c.use(destinations=switch)
    user = pipeline.user(date(1990, 3, 2))
    event = pipeline.only(user.id, Status.PENDING)
    pipeline.at(BIRTHDAY)
    pipeline.sweep()
    with pytest.raises(SystemExit):
        event_source.poll_once(pipeline.c.queue, handlers.deliver, visibility=0)
    assert pipeline.event(event.id).status is Status.PROCESSING  # PostgreSQL never heard of it
    assert len(pipeline.sink.requests) == 1

    assert pipeline.drain() == 1  # the message comes back (at once: visibility 0)
    assert pipeline.event(event.id).status is Status.COMPLETED
    assert len(pipeline.sink.requests) == 1  # the built-in endpoint: not again
    assert len(sink_of[first.id].requests) == 1  # not again
    assert len(sink_of[last.id].requests) == 1  # once, after the restart


def test_an_event_no_endpoint_takes_is_held_and_delivered_once_one_that_takes_it_is_added(
    held: Pipeline, sinks: list[WebhookSink]
) -> None:
    endpoint(held, sinks[0], ("trial-ending",))
    user = held.user(date(1990, 3, 2))
    event = held.only(user.id, Status.PENDING)
    held.at(BIRTHDAY)
    held.sweep()
    held.poll()
    assert sinks[0].requests == []
    still = held.event(event.id)
    assert (still.status, still.attempts) == (Status.PROCESSING, 0)  # held: not an attempt

    late = endpoint(held, sinks[1], ("birthday",))
    held.at(BIRTHDAY + timedelta(minutes=1))
    held.poll()  # back at once (BACKOFF_BASE is 0 here), and now an endpoint takes it
    [request] = sinks[1].requests
    assert request.headers["webhook-id"] == delivery_key(event.idempotency_key, late.id)
    assert held.event(event.id).status is Status.COMPLETED
    assert sinks[0].requests == []


def test_an_event_no_endpoint_takes_within_its_max_age_is_skipped_with_the_reason(
    held: Pipeline, sinks: list[WebhookSink]
) -> None:
    user = held.user(date(1990, 3, 2))
    event = held.only(user.id, Status.PENDING)
    held.at(BIRTHDAY)
    held.sweep()
    held.poll()
    held.at(BIRTHDAY + held.c.settings.max_event_age + timedelta(seconds=1))
    held.poll()
    skipped = held.event(event.id)
    assert skipped.status is Status.SKIPPED
    assert skipped.failure_reason is not None
    assert "MAX_EVENT_AGE" in skipped.failure_reason
    assert held.only(user.id, Status.PENDING).target_utc.year == 2027
    assert all(s.requests == [] for s in sinks)
