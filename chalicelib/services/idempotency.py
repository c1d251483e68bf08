"""Idempotency-Key: a request runs once per caller and key; a retry gets the first answer.

One transaction holds the key, the creation and the kept answer (`Database.outer_transaction`;
the service the request runs opens its own `transaction()`, which joins it), so a crash between
creating and keeping the answer loses both, and a retry creates once. A second request with the
key waits on the key's unique index until the first commits, then replays its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import Conflict
from chalicelib.domain.idempotency import (
    LIFETIME,
    IdempotencyKeyReused,
    IdempotentRequest,
    KeptResponse,
    KeyRecord,
    is_kept,
)
from chalicelib.ports import Clock, Database, Store

_CLAIM_ATTEMPTS = 5
FORGET_BATCH = 1000
"""Expired keys deleted per sweep: a sweep a minute forgets 1.4 million a day."""


@dataclass(frozen=True)
class Answer:
    response: KeptResponse
    replayed: bool


class _NotKept(Exception):
    """Rolls the outer transaction back: the answer is a refusal, so the key stays free."""

    def __init__(self, response: KeptResponse) -> None:
        super().__init__(response.status)
        self.response = response


def answer_once(
    db: Database, clock: Clock, request: IdempotentRequest, run: Callable[[], KeptResponse]
) -> Answer:
    """`run`'s answer, kept for the key when it is a 2xx; or the answer kept for the same
    request before; IdempotencyKeyReused if the key was used for another request."""
    try:
        with db.outer_transaction() as store:
            kept = _claim(store, request, clock.now())
            if kept is not None:
                if kept.fingerprint != request.fingerprint:
                    raise IdempotencyKeyReused()
                assert kept.response is not None, "a committed key always has its answer"
                return Answer(kept.response, replayed=True)
            response = run()
            if not is_kept(response.status):
                raise _NotKept(response)
            store.keep_idempotent_response(request, response)
            return Answer(response, replayed=False)
    except _NotKept as refused:
        return Answer(refused.response, replayed=False)


def _claim(store: Store, request: IdempotentRequest, now: datetime) -> KeyRecord | None:
    """Holds the key for this request (None), or returns the live record that holds it."""
    for _ in range(_CLAIM_ATTEMPTS):
        if store.claim_idempotency_key(request, now):
            return None
        record = store.lock_idempotency_key(request.caller, request.key)
        if record is None:
            continue  # expired and forgotten between the two statements: claim it again
        if not record.is_live(now):
            store.renew_idempotency_key(request, now)  # older than 24 h: a new request
            return None
        return record
    raise Conflict("this Idempotency-Key keeps changing hands; try again")


def forget_expired(db: Database, clock: Clock, limit: int = FORGET_BATCH) -> int:
    """Deletes up to `limit` keys past their lifetime; run after each sweep. A key older than
    24 hours counts as absent anyway, so this only keeps the table from growing, and a failure
    here is logged, never the sweep's."""
    try:
        with db.transaction() as store:
            return store.forget_idempotency_keys(clock.now() - LIFETIME, limit)
    except Exception as exc:
        from chalicelib import observability as obs  # importing app.py loads no Powertools

        obs.log().warning("expired idempotency keys not forgotten", extra={"error": str(exc)[:300]})
        return 0


@dataclass(frozen=True)
class Idempotency:
    """Idempotency-Key bound to its ports: what the container builds for the routes and the sweep."""

    db: Database
    clock: Clock

    def answer_once(self, request: IdempotentRequest, run: Callable[[], KeptResponse]) -> Answer:
        return answer_once(self.db, self.clock, request, run)

    def forget_expired(self) -> int:
        return forget_expired(self.db, self.clock)
