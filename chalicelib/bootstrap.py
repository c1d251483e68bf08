"""The one place that builds adapters from settings, lazily, on first use.

Importing app.py builds nothing: `chalice package`, `cdk synth` and the test client all import
it. Tests and the simulator `install()` a container of their own instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

from chalicelib.adapters import secrets
from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.jwt_verifier import JwksKeys, JwtVerifier, KeySource, SharedSecret
from chalicelib.adapters.postgres import Database
from chalicelib.domain.schedule import Schedule
from chalicelib.services.ports import Clock
from chalicelib.settings import Settings, SettingsError


@dataclass
class Container:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def db(self) -> Database:
        if not self.settings.database_url:
            raise SettingsError("DATABASE_URL is not set")
        return Database(self.settings.database_url, max_size=self.settings.db_pool_size)

    @cached_property
    def schedule(self) -> Schedule:
        return self.settings.schedule()

    @cached_property
    def verifier(self) -> JwtVerifier:
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


_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        # In the cloud, secrets arrive as Secrets Manager references, resolved here, once.
        _container = Container(Settings.from_env(secrets.resolve(os.environ)))
    return _container


def install(new: Container | None) -> None:
    """Replace the container (tests, simulator); None forgets it, to be rebuilt from the env."""
    global _container
    _container = new
