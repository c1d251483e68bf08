"""The verifier on its own: every way a token can be wrong, in both modes (no I/O: the JWKS
arrives through a fake fetch; tests/functional/test_auth_rs256.py fetches it over HTTP)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.jwt_verifier import (
    Claims,
    JwksKeys,
    JwtVerifier,
    KeysUnavailable,
    SharedSecret,
    TokenRejected,
)
from tests.jwks import public_jwk, public_pem, rs256, rsa_key
from tests.tokens import claims, hs256, unsigned, with_payload

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa_key()


class FakeJwks:
    def __init__(self, *documents: Mapping[str, Any] | Exception) -> None:
        self.documents = list(documents)
        self.fetches = 0

    def __call__(self, url: str) -> Mapping[str, Any]:
        self.fetches += 1
        document = self.documents[min(self.fetches, len(self.documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return document


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hs_verifier(**kwargs: Any) -> JwtVerifier:
    return JwtVerifier(SharedSecret(SECRET), **kwargs)


def rejects(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    return str(caught.value)


def test_a_good_hs256_token_gives_its_claims() -> None:
    token = hs256(claims("user", sub="u-1", email="u@example.com"), SECRET)
    assert hs_verifier().verify(token) == Claims("u-1", ("user",), "u@example.com")


def now() -> int:
    return int(time.time())


# Each token is minted inside the test, never at collection: a token minted then with
# `now + 300` would be valid by the time a long suite reached it.
@pytest.mark.parametrize(
    "mint",
    [
        pytest.param(lambda: "garbage", id="garbage"),
        pytest.param(lambda: "a.b.c", id="three-garbage-segments"),
        pytest.param(lambda: unsigned(claims()), id="alg-none"),
        pytest.param(lambda: hs256(claims(), "a-wrong-secret-of-a-perfectly-good-length"), id="wrong-secret"),
        pytest.param(lambda: hs256(claims(), ""), id="empty-secret"),
        pytest.param(lambda: hs256(claims(ttl=-120), SECRET), id="expired"),
        pytest.param(lambda: hs256(claims(nbf=now() + 300), SECRET), id="not-yet-valid"),
        pytest.param(lambda: hs256(claims(iat=now() + 300), SECRET), id="issued-in-the-future"),
        pytest.param(lambda: hs256({"roles": ["admin"], "exp": now() + 60}, SECRET), id="no-sub"),
        pytest.param(lambda: hs256({"sub": "x", "roles": ["admin"]}, SECRET), id="no-exp"),
        pytest.param(lambda: hs256({"sub": "x", "exp": now() + 60}, SECRET), id="no-roles"),
        pytest.param(lambda: hs256(claims(roles="admin", sub=""), SECRET), id="empty-sub"),
        pytest.param(lambda: hs256(claims(roles={"admin": True}), SECRET), id="roles-not-a-list"),
        pytest.param(lambda: hs256(claims(), SECRET, {"alg": "HS512"}), id="header-says-hs512"),
    ],
)
def test_hs256_mode_rejects(mint: Callable[[], str]) -> None:
    rejects(hs_verifier(), mint())


def test_a_payload_edited_after_signing_is_rejected() -> None:
    token = hs256(claims("user", sub="u-1", ttl=60), SECRET)
    rejects(hs_verifier(), with_payload(token, roles=["admin"]))
    rejects(hs_verifier(), with_payload(token, exp=now() + 86400))


def test_leeway_forgives_small_clock_skew_only() -> None:
    verifier = hs_verifier(leeway=timedelta(seconds=30))
    assert verifier.verify(hs256(claims(ttl=-10), SECRET)).subject
    rejects(verifier, hs256(claims(ttl=-60), SECRET))


def test_issuer_and_audience_when_configured() -> None:
    verifier = hs_verifier(issuer="https://issuer.test/", audience="event-scheduler")
    good = claims(iss="https://issuer.test/", aud="event-scheduler")
    assert verifier.verify(hs256(good, SECRET)).subject
    rejects(verifier, hs256({**good, "iss": "https://evil.test/"}, SECRET))
    rejects(verifier, hs256({**good, "aud": "another-api"}, SECRET))
    rejects(verifier, hs256(claims(), SECRET))  # neither present


def test_roles_come_from_a_configured_claim_as_given() -> None:
    verifier = hs_verifier(roles_claim="cognito:groups")
    token = hs256({**claims(), "cognito:groups": ["service", "user", "admin ", "Ops Team"]}, SECRET)
    assert verifier.verify(token).roles == ("service", "user", "admin ", "Ops Team")  # access.py matches


@pytest.mark.parametrize(
    "roles",
    ["service user", "admin", "admin ", "", 42, None, True, {"admin": True}, ["admin", 1], [["admin"]]],
)
def test_a_roles_claim_that_is_not_an_array_of_strings_is_rejected(roles: object) -> None:
    """A string is not split into roles: the claim is malformed, like any other non-array."""
    rejects(hs_verifier(), hs256({**claims(), "roles": roles}, SECRET))


@pytest.fixture
def jwks(key: rsa.RSAPrivateKey) -> FakeJwks:
    return FakeJwks({"keys": [public_jwk(key, "k1")]})


def rs_verifier(fetch: FakeJwks, ticker: Ticker | None = None) -> JwtVerifier:
    keys = JwksKeys("http://jwks.invalid/", timedelta(seconds=30), fetch, ticker or Ticker())
    return JwtVerifier(keys)


def test_a_good_rs256_token_gives_its_claims(key: rsa.RSAPrivateKey, jwks: FakeJwks) -> None:
    verifier = rs_verifier(jwks)
    assert verifier.verify(rs256(claims("service", sub="svc"), key, "k1")) == Claims("svc", ("service",))
    verifier.verify(rs256(claims(), key, "k1"))
    assert jwks.fetches == 1  # cached


def test_rs256_mode_refuses_hs256_signed_with_the_public_key(key: rsa.RSAPrivateKey, jwks: FakeJwks) -> None:
    assert "algorithm" in rejects(rs_verifier(jwks), hs256(claims(), public_pem(key), {"kid": "k1"}))


def test_rs256_mode_refuses_none_and_other_keys(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, jwks: FakeJwks
) -> None:
    verifier = rs_verifier(jwks)
    rejects(verifier, unsigned(claims()))
    rejects(verifier, rs256(claims(), other_key, "k1"))  # right kid, wrong key
    rejects(verifier, with_payload(rs256(claims("user"), key, "k1"), roles=["admin"]))
    rejects(verifier, rs256(claims(), key, ""))  # no kid


def test_an_unknown_kid_refetches_once_then_is_rate_limited(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    rotated = {"keys": [public_jwk(key, "k1"), public_jwk(other_key, "k2")]}
    fetch, ticker = FakeJwks({"keys": [public_jwk(key, "k1")]}, rotated), Ticker()
    verifier = rs_verifier(fetch, ticker)
    verifier.verify(rs256(claims(), key, "k1"))
    ticker.now += 31
    assert verifier.verify(rs256(claims(), other_key, "k2")).subject  # a rotation: refetched
    assert fetch.fetches == 2
    for _ in range(5):
        assert "unknown key id" in rejects(verifier, rs256(claims(), other_key, "k-junk"))
    assert fetch.fetches == 2  # junk kids within the interval fetch nothing
    ticker.now += 31
    rejects(verifier, rs256(claims(), other_key, "k-junk"))
    assert fetch.fetches == 3


def test_an_unreachable_jwks_fails_closed_and_keeps_known_keys(key: rsa.RSAPrivateKey) -> None:
    down = requests.ConnectionError("down")
    fetch, ticker = FakeJwks({"keys": [public_jwk(key, "k1")]}, down), Ticker()
    verifier = rs_verifier(fetch, ticker)
    verifier.verify(rs256(claims(), key, "k1"))
    ticker.now += 31
    with pytest.raises(KeysUnavailable):
        verifier.verify(rs256(claims(), key, "k2"))
    assert verifier.verify(rs256(claims(), key, "k1")).subject


def test_keys_that_are_not_rsa_signing_keys_are_ignored(key: rsa.RSAPrivateKey) -> None:
    document = {
        "keys": [
            {**public_jwk(key, "enc"), "use": "enc"},
            {**public_jwk(key, "es"), "alg": "ES256"},
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            public_jwk(key, "k1"),
        ]
    }
    verifier = rs_verifier(FakeJwks(document))
    assert verifier.verify(rs256(claims(), key, "k1")).subject
    for kid in ("enc", "es", "sym", "broken"):
        rejects(verifier, rs256(claims(), key, kid))
