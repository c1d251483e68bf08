"""PostgreSQL through psycopg 3: a lazily opened pool (`Database`, the connector) and `Store`,
the one module that names queries (procrastinate's manager: chalicelib/sql/queries/*.sql).

`Database` and `Store` implement `chalicelib.ports.Database` and `chalicelib.ports.Store`
(docs/delivery.md, "The store").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from chalicelib.adapters.sql_files import queries
from chalicelib.domain import recurrence
from chalicelib.domain.audience import Audience, ZoneProgress
from chalicelib.domain.delivery import Message
from chalicelib.domain.endpoints import (
    TARGET_FIELD,
    Destination,
    DestinationType,
    Endpoint,
    EndpointFields,
    Secret,
)
from chalicelib.domain.errors import Conflict, FieldError, Unavailable
from chalicelib.domain.events import LATE_AFTER, Event, EventFilter, Status, audience_key_parts
from chalicelib.domain.idempotency import IdempotentRequest, KeptResponse, KeyRecord
from chalicelib.domain.overview import Finished, Lateness
from chalicelib.domain.planner import DstPolicy, Gap, Occurrence, Overlap, Rule
from chalicelib.domain.recurrence import InvalidDate
from chalicelib.domain.schedules import Schedule, ScheduleFields, ScheduleStatus
from chalicelib.domain.series import KnownEvent
from chalicelib.domain.users import User, UserFields
from chalicelib.ports import Claimed, FinishedBatch, Materialised, PlanningReads, ScheduleFilter

_CONSTRAINT_MESSAGES = {
    "events_one_per_occurrence": "an event for this user, type and occurrence already exists",
    "events_idempotency_key_key": "an event with this idempotency key already exists",
    "users_external_id_live": "another user already has this externalId",
}
_CONSTRAINT_FIELDS = {"users_external_id_live": "externalId"}


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached."""

    what = "the database"


# The connection of the outer transaction open in this context (Database.outer_transaction).
# Per context: each thread (and each asyncio task) sees its own.
_OUTER: ContextVar[tuple[Database, psycopg.Connection[dict[str, Any]]] | None] = ContextVar(
    "outer_transaction", default=None
)


@contextmanager
def _translated() -> Iterator[None]:
    """Unique violations become `Conflict` (named when known), a lost server `Unavailable`."""
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        name = exc.diag.constraint_name or ""
        message = _CONSTRAINT_MESSAGES.get(name, f"conflict on {name}")
        field = _CONSTRAINT_FIELDS.get(name)
        raise Conflict(message, [FieldError(field, message)] if field else None) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc


class Database:
    """The connection pool. Nothing connects until the first transaction."""

    def __init__(
        self,
        url: str,
        max_size: int = 4,
        timeout: float = 5.0,
        prepare_threshold: int | None = 5,
        *,
        check: bool = True,
    ) -> None:
        """`prepare_threshold=None` never prepares statements server-side: behind RDS Proxy a
        prepared statement pins the client to one database connection, defeating the proxy.

        `timeout`: how long a caller waits for a connection before DatabaseUnavailable (the
        pool's default, 30 s, outlasts API Gateway's 29 s: /health would never say 503).

        `check`: each connection taken from the pool is probed first (one round trip), and a
        dead one replaced: a thawed Lambda's connection may have been cut while it was frozen.
        `check=False` is for a caller whose server never cuts one (the simulator's embedded
        database), where the probe was a sixth of the run; a cut connection then fails its
        transaction with DatabaseUnavailable."""
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=timeout,
            kwargs={"row_factory": dict_row, "prepare_threshold": prepare_threshold},
            check=ConnectionPool.check_connection if check else None,
        )
        self._opened = False

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        joined = _OUTER.get()
        if joined is not None and joined[0] is self:
            with _translated(), joined[1].transaction():  # a savepoint of the outer transaction
                yield Store(joined[1])
            return
        if not self._opened:
            self._pool.open(wait=False)
            self._opened = True
        with _translated(), self._pool.connection() as conn, conn.transaction():
            yield Store(cast("psycopg.Connection[dict[str, Any]]", conn))

    @contextmanager
    def outer_transaction(self) -> Iterator[Store]:
        """Opt-in, so that a plain `transaction()` nested in another keeps its own connection
        (a test that holds a row lock in one and reads past it in the other relies on that)."""
        if _OUTER.get() is not None:
            raise RuntimeError("an outer transaction is already open in this context")
        with self.transaction() as store:
            token = _OUTER.set((self, store.conn))
            try:
                yield store
            finally:
                _OUTER.reset(token)

    def ping(self) -> bool:
        try:
            with self.transaction() as store:
                store.conn.execute(b"SELECT 1")
            return True
        except Exception:
            return False

    def close(self) -> None:
        if self._opened:
            self._pool.close()
            self._opened = False


class Store:
    """The queries of one transaction, by name, returning domain objects: what the app runs,
    and nothing else (the tools' queries are the local stack's, scripts/devstack/store.py)."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def run(self, name: str, **params: Any) -> int:
        return self.conn.execute(queries()[name].encode(), params).rowcount

    def _one(self, name: str, **params: Any) -> dict[str, Any] | None:
        return self.conn.execute(queries()[name].encode(), params).fetchone()

    def _all(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self.conn.execute(queries()[name].encode(), params).fetchall()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    # users
    def insert_user(self, user: User) -> None:
        self.run("insert_user", **_user_params(user))

    def get_user(self, user_id: UUID, *, lock: bool = False) -> User | None:
        row = self._one("lock_user" if lock else "get_user", id=user_id)
        return _user(row) if row else None

    def update_user(self, user: User) -> None:
        self.run("update_user", **_user_params(user))

    def delete_user(self, user_id: UUID, now: datetime) -> bool:
        """The user and their schedules."""
        self.run("delete_schedules_of_user", user_id=user_id, now=now)
        return self.run("delete_user", id=user_id, now=now) == 1

    def list_users(self, limit: int, after: UUID | None) -> list[User]:
        return [_user(row) for row in self._all("list_users", limit=limit, after=after)]

    def user_by_external_id(self, external_id: str) -> User | None:
        row = self._one("user_by_external_id", external_id=external_id)
        return _user(row) if row else None

    def lock_users_by_external_ids(self, external_ids: Sequence[str]) -> list[User]:
        """Live users with these externalIds, locked in id order: one statement."""
        return [_user(r) for r in self._all("lock_users_by_external_ids", external_ids=list(external_ids))]

    def insert_users(self, users: Sequence[User], now: datetime) -> set[UUID]:
        """New users in one statement; returns the ids inserted (an externalId taken meanwhile
        by another transaction leaves its user out)."""
        if not users:
            return set()
        rows = [
            {
                "id": str(u.id),
                "first_name": u.fields.first_name,
                "last_name": u.fields.last_name,
                "date_of_birth": u.fields.date_of_birth.isoformat(),
                "anniversary_date": u.fields.anniversary_date and u.fields.anniversary_date.isoformat(),
                "timezone": u.fields.timezone,
                "external_id": u.fields.external_id,
                "metadata": u.fields.metadata,
            }
            for u in users
        ]
        return {row["id"] for row in self._all("insert_users", now=now, users=json.dumps(rows))}

    def users_by_ids(self, ids: Iterable[UUID], *, lock: bool = False) -> dict[UUID, User]:
        rows = self._all("lock_users" if lock else "users_by_ids", ids=sorted(set(ids)))
        return {row["id"]: _user(row) for row in rows}

    # events
    def insert_events(self, events: Sequence[Event]) -> None:
        """New events, in one statement."""
        if events:
            self.run("insert_events", events=json.dumps([_event_json(e) for e in events]))

    def update_event(self, event: Event, expected_version: int) -> bool:
        """Writes `event` if the row is still at `expected_version`; False if it moved on."""
        return self.run("update_event", **_event_params(event), expected_version=expected_version) == 1

    def save_event(self, event: Event, expected_version: int) -> None:
        """Like `update_event`, for callers that hold the row's lock: losing is a conflict."""
        if not self.update_event(event, expected_version):
            raise Conflict("the event changed meanwhile; try again")

    def list_events(self, where: EventFilter, limit: int) -> list[Event]:
        statement, params = list_events_statement(where, limit)
        return [event_from_row(row) for row in self.conn.execute(statement, params).fetchall()]

    def get_event(self, event_id: UUID) -> Event | None:
        row = self._one("get_event", id=event_id)
        return event_from_row(row) if row else None

    def events_for_user(self, user_id: UUID) -> list[Event]:
        return [event_from_row(row) for row in self._all("events_for_user", user_id=user_id)]

    def active_events_for_user(self, user_id: UUID) -> list[Event]:
        """PENDING and PROCESSING events, locked for this transaction."""
        return [event_from_row(row) for row in self._all("active_events_for_user", user_id=user_id)]

    def events_by_ids(self, ids: Iterable[UUID]) -> dict[UUID, Event]:
        rows = self._all("events_by_ids", ids=list(set(ids)))
        return {row["id"]: event_from_row(row) for row in rows}

    def known_events(self, user_ids: Iterable[UUID], since: datetime) -> list[KnownEvent]:
        return _known(self._all("known_events", user_ids=list(set(user_ids)), since=since))

    # schedules
    def insert_schedule(self, schedule: Schedule) -> None:
        self.run("insert_schedule", **_schedule_params(schedule))

    def update_schedule(self, schedule: Schedule) -> None:
        self.run("update_schedule", **_schedule_params(schedule))

    def get_schedule(self, schedule_id: UUID) -> Schedule | None:
        row = self._one("get_schedule", id=schedule_id)
        return _schedule(row) if row else None

    def delete_schedule(self, schedule_id: UUID, now: datetime) -> None:
        self.run("delete_schedule", id=schedule_id, now=now)

    def list_schedules(self, user_id: UUID, limit: int, after: UUID | None) -> list[Schedule]:
        return [_schedule(r) for r in self._all("list_schedules", user_id=user_id, limit=limit, after=after)]

    def schedules_for_users(self, user_ids: Iterable[UUID]) -> dict[UUID, list[Schedule]]:
        found: dict[UUID, list[Schedule]] = {}
        for row in self._all("schedules_for_users", user_ids=list(set(user_ids))):
            found.setdefault(row["user_id"], []).append(_schedule(row))
        return found

    def schedules_by_ids(self, ids: Iterable[UUID]) -> dict[UUID, Schedule]:
        wanted = list(set(ids))
        if not wanted:  # a batch of birthdays asks nothing of schedules
            return {}
        return {r["id"]: _schedule(r) for r in self._all("schedules_by_ids", ids=wanted)}

    def end_schedules(self, ids: Sequence[UUID], now: datetime) -> None:
        self.run("end_schedules", ids=list(ids), now=now)

    def next_events_of_schedules(self, ids: Sequence[UUID]) -> dict[UUID, Event]:
        if not ids:
            return {}
        return {
            r["schedule_id"]: event_from_row(r) for r in self._all("next_events_of_schedules", ids=list(ids))
        }

    # endpoints
    def insert_endpoint(self, endpoint: Endpoint) -> None:
        self.run("insert_endpoint", **_endpoint_params(endpoint))

    def update_endpoint(self, endpoint: Endpoint) -> None:
        self.run("update_endpoint", **_endpoint_params(endpoint))

    def get_endpoint(self, endpoint_id: UUID, *, lock: bool = False) -> Endpoint | None:
        row = self._one("lock_endpoint" if lock else "get_endpoint", id=endpoint_id)
        return _endpoint(row) if row else None

    def delete_endpoint(self, endpoint_id: UUID, now: datetime) -> None:
        self.run("delete_endpoint", id=endpoint_id, now=now)

    def list_endpoints(self, limit: int, after: UUID | None) -> list[Endpoint]:
        return [_endpoint(r) for r in self._all("list_endpoints", limit=limit, after=after)]

    def live_endpoints(self) -> list[Endpoint]:
        return [_endpoint(r) for r in self._all("live_endpoints")]

    def mark_endpoint_failing(self, endpoint_id: UUID, at: datetime) -> bool:
        return self._one("mark_endpoint_failing", id=endpoint_id, at=at) is not None

    def mark_endpoint_healthy(self, endpoint_id: UUID) -> None:
        self.run("mark_endpoint_healthy", id=endpoint_id)

    def disable_failing_endpoint(self, endpoint_id: UUID, now: datetime, cutoff: datetime) -> bool:
        return self._one("disable_failing_endpoint", id=endpoint_id, now=now, cutoff=cutoff) is not None

    def finished_events(
        self,
        types: Sequence[str] | None,
        since: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
        finished_since: datetime | None = None,
    ) -> list[Event]:
        after_target, after_id = after or (since - timedelta(microseconds=1), UUID(int=0))
        rows = self._all(
            "finished_events_of_types",
            types=list(types) if types is not None else None,
            since=since,
            after_target=after_target,
            after_id=after_id,
            limit=limit,
            finished_since=finished_since,
        )
        return [event_from_row(r) for r in rows]

    def mark_delivered_late(self, delivered: dict[UUID, datetime]) -> None:
        if delivered:
            self.run("mark_delivered_late", ids=list(delivered), ats=list(delivered.values()))

    def lock_rates(self, endpoint_ids: Sequence[UUID], now: datetime) -> dict[UUID, datetime]:
        ids = sorted(set(endpoint_ids))
        self.run("add_rates", ids=ids, now=now)
        return {r["endpoint_id"]: _utc(r["tat"]) for r in self._all("lock_rates", ids=ids)}

    def set_rates(self, tats: dict[UUID, datetime]) -> None:
        if tats:
            self.run("set_rates", ids=list(tats), tats=list(tats.values()))

    # audience schedules
    def audience_schedules(self) -> list[Schedule]:
        return [_schedule(r) for r in self._all("audience_schedules")]

    def list_all_schedules(self, where: ScheduleFilter, limit: int, after: UUID | None) -> list[Schedule]:
        rows = self._all(
            "list_all_schedules",
            audience=where.audience,
            event_type=where.event_type,
            status=where.status,
            after=after,
            limit=limit,
        )
        return [_schedule(r) for r in rows]

    def lock_schedule(self, schedule_id: UUID, *, shared: bool = False) -> Schedule | None:
        row = self._one("lock_schedule_shared" if shared else "lock_schedule", id=schedule_id)
        return _schedule(row) if row else None

    def audience_zones(self, audience: Audience) -> list[str]:
        return [r["timezone"] for r in self._all("audience_zones", metadata=_metadata_param(audience))]

    def audience_progress(self, schedule_id: UUID) -> dict[str, ZoneProgress]:
        rows = self._all("audience_progress", schedule_id=schedule_id)
        return {r["timezone"]: _progress(r) for r in rows}

    def save_audience_progress(
        self, schedule_id: UUID, progress: Sequence[ZoneProgress], now: datetime
    ) -> None:
        if not progress:
            return
        self.run(
            "save_audience_progress",
            schedule_id=schedule_id,
            now=now,
            zones=[p.timezone for p in progress],
            throughs=[p.through for p in progress],
            dates=[p.current.local_date if p.current else None for p in progress],
            targets=[p.current.target_utc if p.current else None for p in progress],
            after=[p.after_user for p in progress],
        )

    def forget_audience_progress(self, schedule_id: UUID) -> None:
        self.run("forget_audience_progress", schedule_id=schedule_id)

    def materialise_audience(
        self, schedule: Schedule, progress: ZoneProgress, limit: int, now: datetime, lease: timedelta
    ) -> Materialised:
        assert progress.current is not None
        key_before, key_after = audience_key_parts(schedule.id, progress.current.local_date)
        rows = self._all(
            "materialise_audience",
            schedule_id=schedule.id,
            event_type=schedule.event_type,
            metadata=_metadata_param(schedule.audience),
            timezone=progress.timezone,
            local_date=progress.current.local_date,
            target_utc=progress.current.target_utc,
            after=progress.after_user,
            limit=limit,
            now=now,
            lease=lease,
            late_after=LATE_AFTER,
            key_before=key_before,
            key_after=key_after,
        )
        target = progress.current.target_utc  # every member's target and due instant
        claims = [
            Claimed(Message(r["id"], 1, r["idempotency_key"]), target, target)
            for r in rows
            if r["id"] is not None
        ]
        return Materialised(rows[0]["last_user"], int(rows[0]["scanned"]), claims)

    def cancel_schedule_events(self, schedule_id: UUID, now: datetime) -> int:
        return self.run("cancel_schedule_events", schedule_id=schedule_id, now=now)

    def count_audience(self, audience: Audience) -> int:
        row = self._one("count_audience", metadata=_metadata_param(audience))
        return int(row["n"]) if row else 0

    def count_occurrence_events(self, schedule_id: UUID, local_date: date) -> dict[Status, int]:
        rows = self._all("count_occurrence_events", schedule_id=schedule_id, local_date=local_date)
        return {Status(r["status"]): int(r["n"]) for r in rows}

    # the sweeper
    def count_due(self, now: datetime, horizon: datetime) -> int:
        row = self._one("count_due", now=now, horizon=horizon)
        return int(row["pending"] + row["expired"]) if row else 0

    def claim_due(self, now: datetime, horizon: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        return self._claim("claim_due", now, lease, limit, horizon=horizon)

    def resend_unsent(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        return self._claim("resend_unsent", now, lease, limit)

    def requeue_expired(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        return self._claim("requeue_expired", now, lease, limit)

    def _claim(self, name: str, now: datetime, lease: timedelta, limit: int, **more: Any) -> list[Claimed]:
        q = queries()
        statement = sql.SQL(q[name]).format(lease_until=sql.SQL(q["lease_until"]))
        params = {"now": now, "lease": lease, "late_after": LATE_AFTER, "limit": limit, **more}
        rows = self.conn.execute(statement, params).fetchall()
        return [
            Claimed(
                Message(r["id"], r["version"], r["idempotency_key"]),
                _utc(r["target_utc"]),
                _utc(r["due_utc"]),
            )
            for r in rows
        ]

    def count_expecting_a_message(self) -> int:
        row = self._one("count_expecting_a_message")
        return int(row["n"]) if row else 0

    def mark_unsent(self, claims: Sequence[Message]) -> None:
        ids = [m.event_id for m in claims]
        self.run("mark_unsent", ids=ids, versions=[m.version for m in claims])

    def record_sweep(self, finished_at: datetime, summary: dict[str, Any]) -> None:
        self.run("record_sweep", finished_at=finished_at, summary=Jsonb(summary))

    # GET /overview
    def due_by_hour(self, hours: Sequence[datetime], until: datetime) -> dict[datetime, int]:
        rows = self._all("due_by_hour", bounds=list(hours[1:]), until=until)
        return {hours[r["hour"]]: int(r["count"]) for r in rows}

    def finished_by_hour(self, hours: Sequence[datetime], until: datetime) -> dict[datetime, Finished]:
        rows = self._all("finished_by_hour", bounds=list(hours[1:]), since=hours[0], until=until)
        return {
            hours[r["hour"]]: Finished(hours[r["hour"]], r["completed"], r["failed"], r["skipped"], r["late"])
            for r in rows
        }

    def lateness(self, since: datetime, until: datetime) -> Lateness:
        row = self._one("completed_lateness", since=since, until=until)
        assert row is not None  # an aggregate without GROUP BY: always one row
        p50, p99 = (p.total_seconds() for p in row["percentiles"]) if row["percentiles"] else (None, None)
        return Lateness(int(row["count"]), p50, p99)

    def last_sweep(self) -> datetime | None:
        row = self._one("last_sweep")
        return _utc(row["finished_at"]) if row else None

    # the worker
    def extend_leases(self, leases: Sequence[tuple[Message, datetime]]) -> None:
        if leases:
            self.run(
                "extend_leases",
                ids=[m.event_id for m, _ in leases],
                versions=[m.version for m, _ in leases],
                leases=[until for _, until in leases],
            )

    def finish_events(self, changes: Sequence[tuple[Event, int]]) -> set[UUID]:
        """Only the fields the worker's transitions change are written."""
        if not changes:
            return set()
        return {row["id"] for row in self._all("finish_events", **_finish_params(changes))}

    def finish_batch(
        self,
        user_ids: Iterable[UUID],
        changes: Sequence[tuple[Event, int]],
        schedule_ids: Iterable[UUID],
        since: datetime | None,
    ) -> FinishedBatch:
        """Pipelined: the server runs the statements in order, the worker waits once."""
        q = queries()
        users = sorted(set(user_ids))
        wanted = list(set(schedule_ids))
        with self.conn.pipeline():
            locked = self.conn.execute(q["lock_users"].encode(), {"ids": users})
            written = (
                self.conn.execute(q["finish_events"].encode(), _finish_params(changes)) if changes else None
            )
            found = self.conn.execute(q["schedules_by_ids"].encode(), {"ids": wanted}) if wanted else None
            known = (
                self.conn.execute(q["known_events"].encode(), {"user_ids": users, "since": since})
                if since is not None
                else None
            )
        return FinishedBatch(
            users={row["id"]: _user(row) for row in locked.fetchall()},
            written={row["id"] for row in written.fetchall()} if written else set(),
            reads=PlanningReads(
                schedules={r["id"]: _schedule(r) for r in found.fetchall()} if found else {},
                known=_known(known.fetchall()) if known else [],
            ),
        )

    # Idempotency-Key
    def claim_idempotency_key(self, request: IdempotentRequest, now: datetime) -> bool:
        return self.run("claim_idempotency_key", **_key_params(request), now=now) == 1

    def lock_idempotency_key(self, caller: str, key: str) -> KeyRecord | None:
        row = self._one("lock_idempotency_key", caller=caller, key=key)
        if row is None:
            return None
        response = None
        if row["response_status"] is not None:
            response = KeptResponse(row["response_status"], row["response_body"], row["response_headers"])
        return KeyRecord(row["fingerprint"], _utc(row["created_at"]), response)

    def renew_idempotency_key(self, request: IdempotentRequest, now: datetime) -> None:
        self.run("renew_idempotency_key", **_key_params(request), now=now)

    def keep_idempotent_response(self, request: IdempotentRequest, response: KeptResponse) -> None:
        self.run(
            "keep_idempotent_response",
            **_key_params(request),
            status=response.status,
            headers=Jsonb(response.headers),
            body=response.body,
        )

    def forget_idempotency_keys(self, created_before: datetime, limit: int) -> int:
        return self.run("forget_idempotency_keys", created_before=created_before, limit=limit)


def list_events_statement(where: EventFilter, limit: int) -> tuple[sql.Composed, dict[str, Any]]:
    """GET /events' query: the filter blocks that apply, joined by AND (scripts/bench_events.py
    explains it)."""
    q = queries()
    params: dict[str, Any] = {"limit": limit}
    parts = []
    for name, key, value in (
        ("filter_events_status", "status", where.status),
        ("filter_events_type", "event_type", where.event_type),
        ("filter_events_user", "user_id", where.user_id),
        ("filter_events_schedule", "schedule_id", where.schedule_id),
        ("filter_events_from", "from", where.target_from),
        ("filter_events_to", "to", where.target_to),
    ):
        if value is not None:
            parts.append(q[name])
            params[key] = value
    if where.late is not None:
        parts.append(q["filter_events_late" if where.late else "filter_events_on_time"])
    if where.after is not None:
        parts.append(q["filter_events_after"])
        params["after_target"], params["after_id"] = where.after
    # Each block on its own lines: a block may carry a comment.
    filters = sql.SQL(" AND ").join(sql.SQL(f"(\n{p}\n)") for p in parts) if parts else sql.SQL("true")
    return sql.SQL(q["list_events"]).format(filters=filters), params


def _key_params(request: IdempotentRequest) -> dict[str, Any]:
    return {"caller": request.caller, "key": request.key, "fingerprint": request.fingerprint}


def _user_params(user: User) -> dict[str, Any]:
    params = {
        "id": user.id,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "managed_by_import": user.managed_by_import,
    }
    # The fields one by one, not `asdict`: its deep copy of `metadata` recursed once per level
    # of nesting, and a valid object 500 levels deep made that a RecursionError (a 500).
    params |= {f.name: getattr(user.fields, f.name) for f in dataclass_fields(user.fields)}
    params["metadata"] = None if user.fields.metadata is None else Jsonb(user.fields.metadata)
    return params


def _user(row: dict[str, Any]) -> User:
    fields = UserFields(
        first_name=row["first_name"],
        last_name=row["last_name"],
        date_of_birth=row["date_of_birth"],
        timezone=row["timezone"],
        anniversary_date=row["anniversary_date"],
        external_id=row.get("external_id"),
        metadata=row.get("metadata"),
    )
    return User(
        id=row["id"],
        fields=fields,
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        managed_by_import=row.get("managed_by_import", False),
    )


user_from_row = _user


def _event_params(event: Event) -> dict[str, Any]:
    params = {f.name: getattr(event, f.name) for f in dataclass_fields(event)}
    params["status"] = event.status.value
    return params


def event_from_row(row: dict[str, Any]) -> Event:
    values = {name: _utc(row[name]) for name in Event.__dataclass_fields__}
    values["status"] = Status(row["status"])
    return Event(**values)


_EVENT_FIELDS = tuple(Event.__dataclass_fields__)


def _event_json(event: Event) -> dict[str, object]:
    """An event as `insert_events` reads it from JSON: ids and instants as text."""
    row: dict[str, object] = {}
    for name in _EVENT_FIELDS:
        value = getattr(event, name)
        row[name] = value if value is None or isinstance(value, (bool, int, str)) else str(value)
    row["status"] = event.status.value
    return row


def _schedule_params(schedule: Schedule) -> dict[str, Any]:
    rule, fields = schedule.rule, schedule.fields
    return {
        "id": schedule.id,
        "user_id": schedule.user_id,
        "event_type": fields.event_type,
        "payload": Jsonb(fields.payload),
        "start_date": rule.start,
        "local_time": rule.at,
        "timezone": fields.timezone,
        "recurrence": rule.recurrence.text() if rule.recurrence else None,
        "invalid_date": rule.invalid.value,
        "dst_gap": rule.dst.gap.value,
        "dst_overlap": rule.dst.overlap.value,
        "status": schedule.status.value,
        "paused_at": schedule.paused_at,
        "version": schedule.version,
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
        "audience": Jsonb(fields.audience.as_json()) if fields.audience else None,
    }


def _known(rows: Iterable[dict[str, Any]]) -> list[KnownEvent]:
    return [
        KnownEvent(
            r["id"],
            r["user_id"],
            r["event_type"],
            r["occurrence_date"],
            Status(r["status"]),
            r["schedule_id"],
        )
        for r in rows
    ]


def _finish_params(changes: Sequence[tuple[Event, int]]) -> dict[str, Any]:
    events = [new for new, _ in changes]
    return {
        "ids": [e.id for e in events],
        "expected": [expected for _, expected in changes],
        "statuses": [e.status.value for e in events],
        "versions": [e.version for e in events],
        "attempts": [e.attempts for e in events],
        "leases": [e.lease_until for e in events],
        "unsent": [e.unsent for e in events],
        "delivered": [e.delivered_at for e in events],
        "late": [e.late for e in events],
        "reasons": [e.failure_reason for e in events],
        "updated": [e.updated_at for e in events],
    }


def _schedule(row: dict[str, Any]) -> Schedule:
    rule = Rule(
        start=row["start_date"],
        at=row["local_time"],
        recurrence=recurrence.parse(row["recurrence"]) if row["recurrence"] else None,
        invalid=InvalidDate(row["invalid_date"]),
        dst=DstPolicy(Gap(row["dst_gap"]), Overlap(row["dst_overlap"])),
    )
    fields = ScheduleFields(
        row["event_type"], rule, row["payload"], row["timezone"], _audience(row.get("audience"))
    )
    return Schedule(
        id=row["id"],
        user_id=row["user_id"],
        fields=fields,
        status=ScheduleStatus(row["status"]),
        version=row["version"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        paused_at=_utc(row["paused_at"]),
    )


def _endpoint_params(endpoint: Endpoint) -> dict[str, Any]:
    fields = endpoint.fields
    return {
        "id": endpoint.id,
        "destination": Jsonb(fields.destination.as_json()),
        "event_types": list(fields.event_types) if fields.event_types is not None else None,
        "description": fields.description,
        "rate_limit": fields.rate_limit,
        "secrets": Jsonb([_secret_json(s) for s in endpoint.secrets]),
        "enabled": endpoint.enabled,
        "failing_since": endpoint.failing_since,
        "disabled_at": endpoint.disabled_at,
        "version": endpoint.version,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def _secret_json(secret: Secret) -> dict[str, Any]:
    expires = secret.expires_at
    return {
        "value": secret.value,
        "createdAt": secret.created_at.isoformat(),
        "expiresAt": expires.isoformat() if expires else None,
    }


def _endpoint(row: dict[str, Any]) -> Endpoint:
    kind = DestinationType(row["destination"]["type"])
    destination = Destination(kind, row["destination"][TARGET_FIELD[kind]])
    types = row["event_types"]
    fields = EndpointFields(
        destination, tuple(types) if types is not None else None, row["description"], row["rate_limit"]
    )
    secrets = tuple(
        Secret(
            s["value"],
            datetime.fromisoformat(s["createdAt"]),
            datetime.fromisoformat(s["expiresAt"]) if s["expiresAt"] else None,
        )
        for s in row["secrets"]
    )
    return Endpoint(
        id=row["id"],
        fields=fields,
        secrets=secrets,
        enabled=row["enabled"],
        version=row["version"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        failing_since=_utc(row["failing_since"]),
        disabled_at=_utc(row["disabled_at"]),
    )


def _audience(stored: dict[str, Any] | None) -> Audience | None:
    if stored is None:
        return None
    return Audience(stored.get("metadata"))


def _metadata_param(audience: Audience | None) -> Jsonb | None:
    return Jsonb(audience.metadata) if audience is not None and audience.metadata is not None else None


def _progress(row: dict[str, Any]) -> ZoneProgress:
    current = Occurrence(row["local_date"], _utc(row["target_utc"])) if row["local_date"] else None
    return ZoneProgress(row["schedule_id"], row["timezone"], _utc(row["through"]), current, row["after_user"])


def _utc(value: Any) -> Any:
    """timestamptz arrives in the session's zone; the domain speaks UTC."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value
