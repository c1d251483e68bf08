"""The one place that builds adapters from settings, lazily, on first use.

Importing app.py builds nothing: `chalice package`, `cdk synth` and the test client all import
it. Tests, the benchmark and the simulator `install()` a container of their own instead, and
`use()` swaps in any adapter (an in-memory queue, a ledger, a sender).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.clock import SystemClock
from chalicelib.domain.schedule import Schedule
from chalicelib.ports import Clock, Database, DeliveryLedger, Queue, WebhookSender
from chalicelib.settings import Settings, SettingsError

if TYPE_CHECKING:  # each factory imports its adapter itself: a function loads only what it uses
    from chalicelib.adapters.jwt_verifier import JwtVerifier
    from chalicelib.services.sweeper import SweepPolicy
    from chalicelib.services.worker import Worker


@dataclass
class Container:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    def use(self, **adapters: Any) -> Container:
        """Installs ready-made adapters in place of the lazily built ones (`queue=MemoryQueue()`)."""
        for name, adapter in adapters.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise AttributeError(f"the container builds no {name!r}")
            self.__dict__[name] = adapter
        return self

    @cached_property
    def db(self) -> Database:
        from chalicelib.adapters.postgres import Database as PostgresDatabase

        s = self.settings
        url = _required(s.database_url, "DATABASE_URL")
        return PostgresDatabase(url, max_size=s.db_pool_size, prepare_threshold=s.db_prepare_threshold)

    @cached_property
    def schedule(self) -> Schedule:
        return self.settings.schedule()

    @cached_property
    def verifier(self) -> JwtVerifier:
        from chalicelib.adapters.jwt_verifier import JwksKeys, JwtVerifier, KeySource, SharedSecret

        auth = self.settings.auth
        keys: KeySource
        if auth.jwks_url:
            keys = JwksKeys(auth.jwks_url, auth.jwks_min_refresh)
        else:
            secret = auth.secret_for(self.settings.stage)
            if secret is None:
                raise SettingsError(
                    f"STAGE={self.settings.stage} needs JWT_SECRET or JWKS_URL to verify tokens"
                )
            keys = SharedSecret(secret)
        return JwtVerifier(keys, auth.issuer, auth.audience, auth.leeway, auth.roles_claim)

    @cached_property
    def sqs(self) -> Any:
        from chalicelib.adapters import sqs

        return sqs.client(self.settings.aws_region, self.settings.aws_endpoint_url)

    @cached_property
    def queue(self) -> Queue:
        from chalicelib.adapters.sqs import SqsQueue

        return SqsQueue(self.sqs, _required(self.settings.queue_url, "QUEUE_URL"))

    @cached_property
    def dlq(self) -> Queue:
        from chalicelib.adapters.sqs import SqsQueue

        return SqsQueue(self.sqs, _required(self.settings.dlq_url, "DLQ_URL"))

    @cached_property
    def ledger(self) -> DeliveryLedger:
        from chalicelib.adapters.ledger import DynamoLedger

        s = self.settings
        return DynamoLedger(s.ledger_table, s.aws_region, s.aws_endpoint_url)

    @cached_property
    def webhook(self) -> WebhookSender:
        from chalicelib.adapters.webhook import HttpWebhookSender

        s = self.settings
        return HttpWebhookSender(
            _required(s.webhook_url, "WEBHOOK_URL"),
            self.clock,
            s.webhook_secret,
            s.webhook_connect_timeout,
            s.webhook_read_timeout,
        )

    @cached_property
    def sweep_policy(self) -> SweepPolicy:
        from chalicelib.services.sweeper import SweepPolicy

        s = self.settings
        return SweepPolicy(
            s.lease, s.sweep_lookahead, s.sweep_batch_size, s.sweep_time_budget, s.sweep_send_concurrency
        )

    @cached_property
    def worker(self) -> Worker:
        from chalicelib.domain.delivery import Backoff
        from chalicelib.services.worker import DeliveryPolicy, Worker

        s = self.settings
        policy = DeliveryPolicy(
            s.max_attempts, Backoff(s.backoff_base, s.backoff_cap), s.lease, s.max_event_age
        )
        return Worker(
            self.db, self.clock, self.schedule, self.queue, self.dlq, self.ledger, self.webhook, policy
        )


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
