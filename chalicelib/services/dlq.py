"""The dead-letter queue, for operators: what is there, and sending it again.

Messages are received with a visibility timeout long enough for one pass, and those left in
place are made visible again at the end, so a pass never sees a message twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from chalicelib.domain.delivery import MalformedMessage, Message
from chalicelib.domain.errors import SchedulerError
from chalicelib.domain.events import Event, Status
from chalicelib.domain.users import User
from chalicelib.ports import Attempt, Clock, Database, DeliveryLedger, Queue, Received
from chalicelib.services.events import retry_event

PASS_VISIBILITY = 120


@dataclass(frozen=True)
class Entry:
    received: Received
    message: Message | None
    event: Event | None
    user: User | None
    attempts: list[Attempt]

    @property
    def last_error(self) -> str | None:
        failed = [a for a in self.attempts if a.outcome != "success"]
        if failed:
            last = failed[-1]
            return f"HTTP {last.status_code}" if last.status_code else last.error
        if self.event and self.event.failure_reason:
            return self.event.failure_reason
        return self.received.attributes.get("failureReason")

    def as_json(self) -> dict[str, Any]:
        event, user = self.event, self.user
        return {
            "messageId": self.received.message_id,
            "eventId": str(self.message.event_id) if self.message else None,
            "status": event.status.value if event else None,
            "user": f"{user.first_name} {user.last_name} ({user.id})" if user else None,
            "eventType": event.event_type if event else None,
            "targetUtc": event.target_utc.isoformat() if event else None,
            "attempts": len(self.attempts) or (event.attempts if event else 0),
            "lastError": self.last_error,
            "failureReason": event.failure_reason if event else self.received.attributes.get("failureReason"),
        }


def _receive_all(dlq: Queue) -> list[Received]:
    seen: dict[str, Received] = {}
    while True:
        batch = [m for m in dlq.receive(10, PASS_VISIBILITY) if m.message_id not in seen]
        if not batch:
            return list(seen.values())
        seen.update((m.message_id, m) for m in batch)


def _release(dlq: Queue, messages: list[Received]) -> None:
    for message in messages:
        dlq.change_visibility(message.receipt_handle, 0)


def _decode(body: str) -> Message | None:
    try:
        return Message.decode(body)
    except MalformedMessage:
        return None


def inspect(dlq: Queue, db: Database, ledger: DeliveryLedger) -> list[Entry]:
    messages = _receive_all(dlq)
    try:
        entries = []
        for received in messages:
            message = _decode(received.body)
            event = user = None
            attempts: list[Attempt] = []
            if message:
                with db.transaction() as store:
                    event = store.get_event(message.event_id)
                    user = store.get_user(event.user_id) if event else None
                attempts = ledger.attempts_for_event(message.event_id)
            entries.append(Entry(received, message, event, user, attempts))
        return entries
    finally:
        _release(dlq, messages)


@dataclass(frozen=True)
class Redriven:
    message_id: str
    event_id: UUID | None
    result: str


def redrive(dlq: Queue, db: Database, clock: Clock, event_id: UUID | None = None) -> list[Redriven]:
    """FAILED events back to PENDING and due now; their messages leave the DLQ. `event_id`
    None means every message. A message whose event is no longer FAILED is removed too."""
    messages = _receive_all(dlq)
    kept: list[Received] = []
    done: list[Redriven] = []
    try:
        for received in messages:
            message = _decode(received.body)
            if event_id is not None and (message is None or message.event_id != event_id):
                kept.append(received)
                continue
            if message is None:
                kept.append(received)
                done.append(Redriven(received.message_id, None, "kept: not a delivery message"))
                continue
            result = _redrive_one(db, clock, message.event_id)
            if result.startswith("kept"):
                kept.append(received)
            else:
                dlq.delete(received.receipt_handle)
            done.append(Redriven(received.message_id, message.event_id, result))
    finally:
        _release(dlq, kept)
    return done


def _redrive_one(db: Database, clock: Clock, event_id: UUID) -> str:
    with db.transaction() as store:
        event = store.get_event(event_id)
    if event is None:
        return "removed: no such event"
    if event.status is not Status.FAILED:
        return f"removed: the event is already {event.status}"
    try:
        retry_event(db, clock, event_id)
    except SchedulerError as exc:
        return f"kept: {exc}"
    return "redriven: PENDING, due now"
