"""A test's handle on the running pipeline: the real handlers, driven the way AWS would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from chalicelib import bootstrap, handlers
from chalicelib.domain.events import Event, Status
from chalicelib.domain.users import User, UserFields
from chalicelib.ports import Queue, Received
from chalicelib.services import users
from scripts.devstack import event_source
from scripts.devstack.clock import ManualClock
from scripts.devstack.webhook_sink import WebhookSink, verify


@dataclass
class Pipeline:
    c: bootstrap.Container
    clock: ManualClock
    sink: WebhookSink

    def user(self, born: date, timezone: str = "UTC", first: str = "Ada", last: str = "Lovelace") -> User:
        fields = UserFields(first, last, born, timezone)
        return users.create_user(self.c.db, self.clock, self.c.builtins, fields)

    def events(self, user_id: UUID) -> list[Event]:
        with self.c.db.transaction() as store:
            return store.events_for_user(user_id)

    def event(self, event_id: UUID) -> Event:
        with self.c.db.transaction() as store:
            found = store.get_event(event_id)
        assert found is not None
        return found

    def only(self, user_id: UUID, status: Status) -> Event:
        matching = [e for e in self.events(user_id) if e.status is status]
        assert len(matching) == 1, self.events(user_id)
        return matching[0]

    def at(self, instant: datetime) -> None:
        self.clock.set(instant)

    def sweep(self) -> dict[str, Any]:
        return handlers.sweep()

    def poll(self) -> int:
        return event_source.poll_once(self.c.queue, handlers.deliver)

    def drain(self) -> int:
        return event_source.drain(self.c.queue, handlers.deliver)


@dataclass
class RecordingQueue:
    """Passes every call through to a real queue, remembers visibility changes and counts the
    messages it accepted."""

    inner: Queue
    visibility_changes: list[tuple[str, int]] = field(default_factory=list)
    sent: int = 0

    def send_batch(self, bodies: Sequence[str], delays: Sequence[int] = ()) -> list[int]:
        failed = self.inner.send_batch(bodies, delays)
        self.sent += len(bodies) - len(failed)
        return failed

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        self.inner.send(body, attributes)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.visibility_changes.append((receipt_handle, seconds))
        self.inner.change_visibility(receipt_handle, seconds)

    def receive(self, max_messages: int = 10, visibility_timeout: int | None = None) -> list[Received]:
        return self.inner.receive(max_messages, visibility_timeout)

    def delete(self, receipt_handle: str) -> None:
        self.inner.delete(receipt_handle)

    def depth(self) -> int:
        return self.inner.depth()


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks library's verifier, not the signer's code; signatures carry real
    time, so its replay window holds even though the pipeline runs on a manual clock."""
    return verify(secret, headers, body)
