"""The one place that builds adapters from settings, and the services from them, lazily, on
first use: the routes and handlers call the services the container built (one container
access per request), never pass it ports themselves.

Importing app.py builds nothing: `chalice package`, `cdk synth` and the test client all import
it. Tests, the benchmark and the simulator `install()` a container of their own instead, and
`use()` swaps in any part (an in-memory queue, a ledger, a sender, other settings).

A seam never fails silently: the container records which parts each part read while it was
built, and `use()` (or assigning `settings`) raises `SeamAlreadyUsed` once a part that read
the one being replaced exists, instead of leaving that part with the old one (docs/delivery.md,
"Seams for tests and tools").

Each factory imports its adapter when first called: app.py is every function's module, so an
import here is paid by all of them (the authorizer would load psycopg, the API the worker).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from chalicelib.adapters.clock import SystemClock
from chalicelib.domain.builtins import BuiltIns
from chalicelib.ports import Clock, Database, DeliveryLedger, Destinations, Notices, Queue, WebhookSender
from chalicelib.settings import Settings, SettingsError

if TYPE_CHECKING:  # each factory imports its adapter itself: a function loads only what it uses
    from chalicelib.adapters.jwt_verifier import JwtVerifier
    from chalicelib.services.endpoints import Endpoints
    from chalicelib.services.events import Events
    from chalicelib.services.health import Health
    from chalicelib.services.idempotency import Idempotency
    from chalicelib.services.imports import Imports
    from chalicelib.services.overview import Overviews
    from chalicelib.services.schedules import Schedules
    from chalicelib.services.sweeper import Sweeper, SweepPolicy
    from chalicelib.services.users import Users
    from chalicelib.services.worker import Worker


T = TypeVar("T")


class SeamAlreadyUsed(RuntimeError):
    """A part was replaced after a part built from it: that one would keep the old one."""


class _Part(Generic[T]):
    """A part the container builds on first use (like `functools.cached_property`), noting
    which part was being built when it was read."""

    def __init__(self, factory: Callable[[Container], T]) -> None:
        self._factory = factory
        self.name = factory.__name__
        self.__doc__ = factory.__doc__

    @overload
    def __get__(self, container: None, owner: type) -> _Part[T]: ...

    @overload
    def __get__(self, container: Container, owner: type) -> T: ...

    def __get__(self, container: Container | None, owner: type) -> _Part[T] | T:
        if container is None:
            return self
        value: T = container._get(self.name, lambda: self._factory(container))
        return value


class Container:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self._parts: dict[str, Any] = {"settings": settings, "clock": clock or SystemClock()}
        self._building: list[str] = []
        self._readers: dict[str, set[str]] = {}

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        if self._building:
            self._readers.setdefault(name, set()).add(self._building[-1])
        if name not in self._parts:
            self._building.append(name)
            try:
                self._parts[name] = build()
            finally:
                self._building.pop()
        return self._parts[name]

    @classmethod
    def part_names(cls) -> frozenset[str]:
        return frozenset({"settings", "clock"} | {n for n, v in vars(cls).items() if isinstance(v, _Part)})

    def use(self, **parts: Any) -> Container:
        """Installs ready-made parts in place of the lazily built ones (`queue=MemoryQueue()`);
        raises SeamAlreadyUsed if a part built from one of them exists already."""
        for name, part in parts.items():
            if name not in self.part_names():
                raise AttributeError(f"the container builds no {name!r}")
            built = sorted(r for r in self._readers.get(name, ()) if r in self._parts and r != name)
            if built:
                raise SeamAlreadyUsed(
                    f"{name!r} cannot be replaced: {', '.join(built)} was already built with the old one;"
                    f" use({name}=...) before anything reads it"
                )
            self._parts[name] = part
        return self

    @property
    def settings(self) -> Settings:
        value: Settings = self._get("settings", lambda: None)
        return value

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.use(settings=settings)

    @property
    def clock(self) -> Clock:
        value: Clock = self._get("clock", lambda: None)
        return value

    @_Part
    def db(self) -> Database:
        from chalicelib.adapters.postgres import Database as PostgresDatabase

        s = self.settings
        url = _required(s.database_url, "DATABASE_URL")
        # The sweep writes audience zones at once, each on a connection: the pool opens a second
        # only when two are in use at the same time, which no other function does.
        size = max(s.db_pool_size, s.audience_concurrency)
        return PostgresDatabase(url, max_size=size, prepare_threshold=s.db_prepare_threshold)

    @_Part
    def builtins(self) -> BuiltIns:
        return self.settings.builtins()

    @_Part
    def verifier(self) -> JwtVerifier:
        from chalicelib.adapters.jwt_verifier import JwksKeys, JwtVerifier, KeySource, SharedSecret

        auth = self.settings.auth
        keys: KeySource
        if auth.jwks_url:
            keys = JwksKeys(auth.jwks_url, auth.jwks_min_refresh, max_age=auth.jwks_max_age)
        else:
            secret = auth.secret_for(self.settings.stage)
            if secret is None:
                raise SettingsError(
                    f"STAGE={self.settings.stage} needs JWT_SECRET or JWKS_URL to verify tokens"
                )
            keys = SharedSecret(secret)
        return JwtVerifier(keys, auth.issuer, auth.audience, auth.leeway, auth.roles_claim)

    @_Part
    def sqs(self) -> Any:
        from chalicelib.adapters import sqs

        return sqs.client(self.settings.aws_region, self.settings.aws_endpoint_url)

    @_Part
    def queue(self) -> Queue:
        from chalicelib.adapters.sqs import SqsQueue

        return SqsQueue(self.sqs, _required(self.settings.queue_url, "QUEUE_URL"))

    @_Part
    def dlq(self) -> Queue:
        from chalicelib.adapters.sqs import SqsQueue

        return SqsQueue(self.sqs, _required(self.settings.dlq_url, "DLQ_URL"))

    @_Part
    def ledger(self) -> DeliveryLedger:
        from chalicelib.adapters.ledger import DynamoLedger

        s = self.settings
        return DynamoLedger(s.ledger_table, s.aws_region, s.aws_endpoint_url)

    @_Part
    def webhook(self) -> WebhookSender:
        from chalicelib.adapters.webhook import HttpWebhookSender

        s = self.settings
        return HttpWebhookSender(
            _required(s.webhook_url, "WEBHOOK_URL"),
            s.webhook_secret,
            s.webhook_connect_timeout,
            s.webhook_read_timeout,
        )

    # The services: built afresh at each access from the parts as they are now (a dataclass,
    # nothing to keep), so a part a test replaces with use() reaches the next request.
    @property
    def users(self) -> Users:
        from chalicelib.services.users import Users

        return Users(self.db, self.clock, self.builtins)

    @property
    def imports(self) -> Imports:
        from chalicelib.services.imports import Imports

        return Imports(self.db, self.clock, self.builtins)

    @property
    def schedules(self) -> Schedules:
        from chalicelib.services.schedules import Schedules

        return Schedules(self.db, self.clock, self.builtins)

    @property
    def events(self) -> Events:
        from chalicelib.services.events import Events

        return Events(self.db, self.clock, lambda: self.ledger)

    @property
    def idempotency(self) -> Idempotency:
        from chalicelib.services.idempotency import Idempotency

        return Idempotency(self.db, self.clock)

    @property
    def health(self) -> Health:
        from chalicelib.services.health import Health

        return Health(self.db)

    @property
    def endpoints(self) -> Endpoints:
        from chalicelib.domain.endpoints import DestinationRules
        from chalicelib.services.endpoints import Endpoints

        s = self.settings
        rules = DestinationRules(s.aws_region, s.endpoint_allowed_arns, s.endpoint_private_urls)
        return Endpoints(
            self.db, self.clock, rules, lambda: self.queue, lambda: self.ledger, lambda: self.notices,
            s.max_event_age,
        )  # fmt: skip

    @property
    def overview(self) -> Overviews:
        from chalicelib.services.overview import Overviews

        return Overviews(self.db, self.clock, lambda: self.queue, lambda: self.dlq)

    @property
    def sweeper(self) -> Sweeper:
        from chalicelib.services.sweeper import Sweeper

        return Sweeper(self.db, self.clock, self.queue, self.sweep_policy)

    @_Part
    def destinations(self) -> Destinations:
        from chalicelib.adapters.destinations import EndpointSenders

        s = self.settings
        return EndpointSenders(
            s.webhook_connect_timeout,
            s.webhook_read_timeout,
            s.aws_region,
            s.aws_endpoint_url,
            public_only=not s.endpoint_private_urls,
        )

    @_Part
    def notices(self) -> Notices:
        from chalicelib.adapters import aws_clients
        from chalicelib.adapters.notices import EndpointNotices

        s = self.settings
        if not s.ops_topic_arn:
            return EndpointNotices()
        return EndpointNotices(aws_clients.client("sns", s.aws_region, s.aws_endpoint_url), s.ops_topic_arn)

    @_Part
    def sweep_policy(self) -> SweepPolicy:
        from chalicelib.services.materialiser import AudiencePolicy
        from chalicelib.services.sweeper import SweepPolicy

        s = self.settings
        audiences = AudiencePolicy(
            s.audience_lookahead, s.audience_batch_size, s.audience_time_budget, s.audience_concurrency
        )
        return SweepPolicy(
            s.lease,
            s.sweep_lookahead,
            s.sweep_batch_size,
            s.sweep_time_budget,
            s.sweep_send_concurrency,
            audiences,
        )

    @_Part
    def worker(self) -> Worker:
        from chalicelib.domain.delivery import Backoff
        from chalicelib.services.worker import DeliveryPolicy, Worker

        s = self.settings
        policy = DeliveryPolicy(
            s.max_attempts,
            Backoff(s.backoff_base, s.backoff_cap),
            s.lease,
            s.max_event_age,
            s.webhook_concurrency,
            s.endpoint_disable_after,
        )
        # The built-in endpoint when WEBHOOK_URL is set (or a test installed a sender for it).
        builtin = self.webhook if s.webhook_url or "webhook" in self._parts else None
        return Worker(
            self.db, self.clock, self.builtins, self.queue, self.dlq, self.ledger, builtin, policy,
            destinations=self.destinations, notices=self.notices,
        )  # fmt: skip


def _required(value: str | None, name: str) -> str:
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        from chalicelib.adapters import secrets

        # In the cloud, secrets arrive as Secrets Manager references, resolved here, once.
        settings = Settings.from_env(secrets.resolve(os.environ))
        _container = Container(settings, SystemClock(settings.clock_offset))
    return _container


def install(new: Container | None) -> None:
    """Replace the container (tests, simulator); None forgets it, to be rebuilt from the env."""
    global _container
    _container = new
