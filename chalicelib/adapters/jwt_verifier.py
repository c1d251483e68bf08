"""JWT verification with pyjwt: HS256 against a shared secret, or RS256 against a JWKS.

Each key source fixes its own algorithm allow-list, so the token's `alg` header never chooses
how it is checked: `none` and HS/RS confusion fail before any signature is computed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from chalicelib.adapters import pyjwt_loader
from chalicelib.ports import Claims, KeysUnavailable, TokenRejected

JWKS_TIMEOUT_SECONDS = 3.0
MAX_SUBJECT_LENGTH = 256


__all__ = ["Claims", "JwksKeys", "JwtVerifier", "KeysUnavailable", "SharedSecret", "TokenRejected"]


class KeySource(Protocol):
    algorithms: tuple[str, ...]

    def key_for(self, header: Mapping[str, Any]) -> Any:
        """The verification key for a token with this (unverified) header, or TokenRejected."""
        ...


class SharedSecret:
    algorithms: tuple[str, ...] = ("HS256",)

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def key_for(self, header: Mapping[str, Any]) -> Any:
        return self._secret


def fetch_json(url: str) -> Mapping[str, Any]:
    import requests  # RS256 only: HS256 containers never load it

    response = requests.get(url, timeout=JWKS_TIMEOUT_SECONDS)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("a JWKS document is a JSON object")
    return body


class JwksKeys:
    """RSA public keys from a JWKS URL, cached by `kid`; an unknown `kid` refetches the set
    (a rotation), at most once per `min_refresh`, and a failed fetch keeps the keys it had.

    The set is trusted for `max_age` only: a key the provider removes (revokes) stops verifying
    once the cached set is older than that. Past it, an unreachable JWKS fails closed (retried
    at most once per `min_refresh`), since the keys it would vouch for may have been revoked.
    """

    algorithms: tuple[str, ...] = ("RS256",)

    def __init__(
        self,
        url: str,
        min_refresh: timedelta = timedelta(seconds=30),
        fetch: Callable[[str], Mapping[str, Any]] = fetch_json,
        monotonic: Callable[[], float] = time.monotonic,
        max_age: timedelta = timedelta(minutes=10),
    ) -> None:
        self._url = url
        self._min_refresh = min_refresh.total_seconds()
        self._max_age = max_age.total_seconds()
        self._fetch = fetch
        self._monotonic = monotonic
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("the token names no key (kid)")
        key = self._keys.get(kid) if self._fresh() else None
        if key is None:
            with self._lock:
                if not self._fresh():
                    self._reload()
                key = self._keys.get(kid) or self._refresh_for(kid)
        return key

    def _fresh(self) -> bool:
        return self._loaded_at is not None and self._monotonic() - self._loaded_at < self._max_age

    def _reload(self) -> None:
        """The cached set is too old (or there is none): fetch it, or trust nothing."""
        self._keys = {}
        now = self._monotonic()
        if self._fetched_at is not None and now - self._fetched_at < self._min_refresh:
            raise KeysUnavailable("the JWKS could not be fetched recently; retrying shortly")
        self._load(now)

    def _refresh_for(self, kid: str) -> Any:
        now = self._monotonic()
        if self._fetched_at is not None and now - self._fetched_at < self._min_refresh:
            raise TokenRejected(f"unknown key id {kid!r}")
        self._load(now)
        if kid not in self._keys:
            raise TokenRejected(f"unknown key id {kid!r}")
        return self._keys[kid]

    def _load(self, now: float) -> None:
        self._fetched_at = now
        import requests  # the default fetch's errors; loaded already by then

        try:
            document = self._fetch(self._url)
        except (requests.RequestException, ValueError) as exc:
            raise KeysUnavailable(f"could not fetch the JWKS: {exc}") from None
        self._keys = _rsa_keys(document, self.algorithms)
        self._loaded_at = now


def _rsa_keys(document: Mapping[str, Any], algorithms: tuple[str, ...]) -> dict[str, Any]:
    """Signing RSA keys with a `kid`; anything else in the set is skipped, not fatal."""
    jwt = pyjwt_loader.load(asymmetric=True)
    keys = {}
    for entry in document.get("keys") or []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        if entry.get("alg", algorithms[0]) not in algorithms or not isinstance(entry.get("kid"), str):
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK.from_dict(entry, algorithm=algorithms[0]).key
        except jwt.PyJWTError:
            continue
    return keys


class JwtVerifier:
    def __init__(
        self,
        keys: KeySource,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: timedelta = timedelta(seconds=30),
        roles_claim: str = "roles",
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._roles_claim = roles_claim

    def verify(self, token: str) -> Claims:
        jwt = pyjwt_loader.load(asymmetric=not self._keys.algorithms[0].startswith("HS"))
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._keys.algorithms:
                raise TokenRejected(f"algorithm {header.get('alg')!r} is not accepted")
            payload = jwt.decode(
                token,
                self._keys.key_for(header),
                algorithms=list(self._keys.algorithms),
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": self._audience is not None,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(str(exc) or type(exc).__name__) from None
        return self._claims(payload)

    def _claims(self, payload: Mapping[str, Any]) -> Claims:
        subject = payload["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
            raise TokenRejected("sub must be a non-empty string")
        if self._roles_claim not in payload:
            raise TokenRejected(f"the token has no {self._roles_claim!r} claim")
        roles = payload[self._roles_claim]
        # Strictly an array: "service user" as one string is a malformed claim, not two roles
        # (the roles themselves are matched exactly, in chalicelib/domain/access.py).
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenRejected(f"{self._roles_claim} must be a JSON array of strings")
        email = payload.get("email")
        return Claims(subject, tuple(roles), email if isinstance(email, str) else None)
