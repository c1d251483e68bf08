"""Webhook signatures carry real time, whatever the app's clock says: a webhook sent with
`make demo`'s configuration (CLOCK_OFFSET set) verifies with the Standard Webhooks library
(`standardwebhooks`, a third party's verifier, replay window included), while its body keeps
the app's (shifted) times. Over real HTTP, to the local sink."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import bootstrap
from chalicelib.ports import Delivery
from scripts.devstack.webhook_sink import WebhookSink
from scripts.run_local import LOCAL_WEBHOOK_SECRET, demo_offset


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink(secret=LOCAL_WEBHOOK_SECRET) as receiver:
        yield receiver


def demo() -> timedelta:
    """What `make demo` sets; far enough from real time to matter unless run near 08:59 UTC."""
    return demo_offset(datetime.now(UTC))


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(demo, id="make-demo"),
        pytest.param(lambda: timedelta(days=1), id="a-day-ahead"),
        pytest.param(lambda: -timedelta(hours=3), id="three-hours-behind"),
    ],
)
def test_a_webhook_sent_on_a_shifted_clock_verifies_with_the_standard_library(
    sink: WebhookSink, monkeypatch: pytest.MonkeyPatch, offset: object
) -> None:
    shift = offset()  # type: ignore[operator]
    for name, value in {
        "STAGE": "local",
        "CLOCK_OFFSET": f"{int(shift.total_seconds())}s",
        "WEBHOOK_URL": sink.url,
        "WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    bootstrap.install(None)
    try:
        container = bootstrap.container()
        before = datetime.now(UTC).timestamp()
        outcome = container.webhook.deliver(Delivery("demo-key", b'{"message":"hi"}'))
        after = datetime.now(UTC).timestamp()
    finally:
        bootstrap.install(None)
    assert outcome.status_code == 200
    [arrived] = sink.requests
    assert int(before) <= int(arrived.headers["webhook-timestamp"]) <= after
    Webhook(LOCAL_WEBHOOK_SECRET).verify(arrived.body, arrived.headers, json_parse=False)  # raises if not
    assert arrived.signature_valid is True
