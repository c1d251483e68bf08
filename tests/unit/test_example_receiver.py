"""The example receiver of docs/receiving-webhooks.md: acts once per webhook-id on the team's externalId and
metadata, signed by the app's own signer."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from chalicelib.adapters.webhook import HttpWebhookSender
from chalicelib.ports import Delivery
from scripts.example_receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"example receiver key").decode()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def signed(
    body: dict[str, object], key: str = "84ed20ea-0ae0-5bd0-99f8-17f405cd277e"
) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    sender = HttpWebhookSender("http://127.0.0.1:9/hook", SECRET, wall_clock=NOW.timestamp)
    return sender.headers(Delivery(key, raw)), raw


BODY = {
    "message": "Hey, Ada Lovelace it's your birthday",
    "eventId": "4ede4c2e-73be-4848-b8a0-a2bb9de8afc9",
    "eventType": "birthday",
    "userId": "d3d36fdb-7c40-432f-8a70-9b54cf167505",
    "scheduledFor": "2026-03-02T09:00:00Z",
    "externalId": "crm-000123",
    "metadata": {"channel": "push", "locale": "en-GB"},
}


def outbox(path: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT webhook_id, customer, channel, text FROM outbox").fetchall()


def test_acts_once_per_webhook_id_on_the_external_id_and_metadata(tmp_path: Path) -> None:
    receiver = Receiver(SECRET, str(tmp_path / "r.sqlite3"))
    headers, raw = signed(BODY)
    assert receiver.handle(headers, raw, now=NOW.timestamp()) == (200, "queued a push message for crm-000123")
    assert receiver.handle(headers, raw, now=NOW.timestamp() + 60) == (200, "duplicate: already handled")
    assert outbox(tmp_path / "r.sqlite3") == [
        (headers["webhook-id"], "crm-000123", "push", "Hey, Ada Lovelace it's your birthday")
    ]


def test_without_external_id_or_metadata_it_falls_back_to_the_scheduler_id(tmp_path: Path) -> None:
    receiver = Receiver(SECRET, str(tmp_path / "r.sqlite3"))
    headers, raw = signed({**BODY, "externalId": None, "metadata": None})
    status, text = receiver.handle(headers, raw, now=NOW.timestamp())
    assert (status, text) == (200, f"queued a email message for scheduler:{BODY['userId']}")


def test_refuses_a_tampered_body_and_a_stale_timestamp(tmp_path: Path) -> None:
    receiver = Receiver(SECRET, str(tmp_path / "r.sqlite3"))
    headers, raw = signed(BODY)
    assert receiver.handle(headers, raw.replace(b"crm-000123", b"crm-999999"), now=NOW.timestamp())[0] == 401
    assert receiver.handle(headers, raw, now=NOW.timestamp() + 301)[0] == 401
    assert outbox(tmp_path / "r.sqlite3") == []


def test_refuses_an_unsigned_webhook_though_it_carries_an_id_and_a_timestamp(tmp_path: Path) -> None:
    """What a local stack with WEBHOOK_URL and no WEBHOOK_SECRET sends (docs/receiving-webhooks.md)."""
    raw = json.dumps(BODY).encode()
    sender = HttpWebhookSender("http://127.0.0.1:9/hook", wall_clock=NOW.timestamp)
    headers = sender.headers(Delivery("84ed20ea-0ae0-5bd0-99f8-17f405cd277e", raw))
    assert headers["webhook-id"] == "84ed20ea-0ae0-5bd0-99f8-17f405cd277e"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert "webhook-signature" not in headers
    receiver = Receiver(SECRET, str(tmp_path / "r.sqlite3"))
    assert receiver.handle(headers, raw, now=NOW.timestamp()) == (401, "bad signature")
