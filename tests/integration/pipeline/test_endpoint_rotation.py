"""An endpoint's secret rotated between deliveries: before, one signature by the old secret;
during the grace, both (`v1,<new> v1,<old>`), so a receiver holding either accepts; after,
the new one's alone. Checked with the two verifiers receivers use, Standard Webhooks' and
Svix's, not with the signer's code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardRefused
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError as SvixRefused

from chalicelib.domain.endpoints import Destination, DestinationType, EndpointFields
from chalicelib.domain.events import Status
from chalicelib.services import endpoints
from scripts.devstack.webhook_sink import Recorded, WebhookSink
from tests.integration.pipeline.support import Pipeline

DAY_ONE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def accepts(secret: str, request: Recorded) -> bool:
    """Both libraries must agree: each one's answer on its own."""
    answers = []
    for verify in (StandardWebhook(secret).verify, SvixWebhook(secret).verify):
        try:
            verify(request.body, request.headers)
            answers.append(True)
        except (StandardRefused, SvixRefused):
            answers.append(False)
    assert answers[0] == answers[1], answers
    return answers[0]


def test_every_delivery_across_a_rotation_verifies_with_the_secret_the_receiver_holds(
    pipeline: Pipeline, receiver: WebhookSink
) -> None:
    fields = EndpointFields(Destination(DestinationType.WEBHOOK, receiver.url))
    endpoint = endpoints.create_endpoint(pipeline.c.db, pipeline.clock, fields)
    old = endpoint.secrets[0].value
    people = [pipeline.user(date(1990, 3, day)) for day in (2, 3, 4)]

    pipeline.at(DAY_ONE)
    pipeline.sweep()
    pipeline.drain()
    pipeline.at(DAY_ONE + timedelta(hours=3))
    grace = timedelta(hours=36)  # until 4 March 00:00: the 3 March delivery falls within it
    new = endpoints.rotate_secret(pipeline.c.db, pipeline.clock, endpoint.id, grace)[0].value
    for day in (1, 2):
        pipeline.at(DAY_ONE + timedelta(days=day))
        pipeline.sweep()
        pipeline.drain()

    before, during, after = receiver.requests
    assert len(before.headers["webhook-signature"].split()) == 1
    assert (accepts(old, before), accepts(new, before)) == (True, False)
    assert len(during.headers["webhook-signature"].split()) == 2
    assert (accepts(old, during), accepts(new, during)) == (True, True)
    assert len(after.headers["webhook-signature"].split()) == 1
    assert (accepts(old, after), accepts(new, after)) == (False, True)
    assert all(
        e.status is Status.COMPLETED
        for p in people
        for e in pipeline.events(p.id)
        if e.target_utc.day <= 4 and e.target_utc.year == 2026
    )
