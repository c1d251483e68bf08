"""A key the identity provider removes from its JWKS stops verifying once the cached set is
older than its maximum age (JWKS_MAX_AGE): fetched over real HTTP, with the cache's clock moved
by hand instead of waiting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.jwt_verifier import JwksKeys, JwtVerifier, KeysUnavailable, TokenRejected
from tests.jwks import JwksServer, public_jwk, rs256, rsa_key
from tests.tokens import claims

MAX_AGE = timedelta(minutes=10)


class Ticker:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return rsa_key(), rsa_key()


@pytest.fixture
def server(keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> Iterator[JwksServer]:
    jwks = JwksServer()
    jwks.document = {"keys": [public_jwk(keys[0], "kept"), public_jwk(keys[1], "revoked")]}
    yield jwks
    jwks.close()


def test_a_key_removed_from_the_jwks_stops_verifying_after_the_max_age(
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey], server: JwksServer
) -> None:
    kept, revoked = keys
    ticker = Ticker()
    verifier = JwtVerifier(JwksKeys(server.url, timedelta(seconds=30), max_age=MAX_AGE, monotonic=ticker))
    assert verifier.verify(rs256(claims(sub="before"), revoked, "revoked")).subject == "before"
    server.document = {"keys": [public_jwk(kept, "kept")]}  # the provider revokes one key

    ticker.now += MAX_AGE.total_seconds() - 1
    assert verifier.verify(rs256(claims(sub="cached"), revoked, "revoked")).subject == "cached"
    assert server.fetches == 1  # within the max age the cached set serves

    ticker.now += 1
    with pytest.raises(TokenRejected, match="unknown key id"):
        verifier.verify(rs256(claims(), revoked, "revoked"))
    assert verifier.verify(rs256(claims(sub="kept"), kept, "kept")).subject == "kept"
    assert server.fetches == 2  # one refetch served both


def test_past_the_max_age_an_unreachable_jwks_fails_closed_then_recovers(
    keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey], server: JwksServer
) -> None:
    kept, _ = keys
    ticker = Ticker()
    verifier = JwtVerifier(JwksKeys(server.url, timedelta(seconds=30), max_age=MAX_AGE, monotonic=ticker))
    verifier.verify(rs256(claims(), kept, "kept"))
    server.status = 503  # the provider is down: its keys may have been revoked meanwhile

    ticker.now += MAX_AGE.total_seconds()
    with pytest.raises(KeysUnavailable):
        verifier.verify(rs256(claims(), kept, "kept"))
    with pytest.raises(KeysUnavailable):  # retried at most every min_refresh, not per request
        verifier.verify(rs256(claims(), kept, "kept"))
    assert server.fetches == 2

    server.status = 200
    ticker.now += 30
    assert verifier.verify(rs256(claims(sub="again"), kept, "kept")).subject == "again"
    assert server.fetches == 3
