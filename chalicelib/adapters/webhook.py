"""The webhook POST through requests, signed per the Standard Webhooks specification.

    webhook-id         the idempotency key (stable across every retry of one occurrence)
    webhook-timestamp  integer seconds since the epoch
    webhook-signature  "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))

The secret is base64, optionally prefixed `whsec_` (the spec's convention); the HMAC key is
the decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from chalicelib.domain.delivery import Outcome, Verdict, parse_retry_after, verdict_for_status
from chalicelib.ports import Clock, Delivery
from chalicelib.settings import SettingsError

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_MAX_ERROR = 200


def signing_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("WEBHOOK_SECRET must be base64, optionally prefixed whsec_") from None
    if not key:
        raise SettingsError("WEBHOOK_SECRET must not be empty")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class HttpWebhookSender:
    """One requests.Session per thread (keep-alive connections reused across messages)."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        secret: str | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        session_factory: Callable[[], requests.Session] | None = None,
    ) -> None:
        self.url = url
        self._clock = clock
        self._key = signing_key(secret) if secret else None
        self._timeout = (connect_timeout, read_timeout)
        self._session_factory = session_factory or _session
        self._local = threading.local()
        # The URL is parsed and checked once; each POST copies this and sets headers and body.
        self._template = requests.Request("POST", url).prepare()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._session_factory()
        return session

    def headers(self, delivery: Delivery) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Idempotency-Key": delivery.idempotency_key,
        }
        if self._key is not None:
            timestamp = int(self._clock.now().timestamp())
            headers["webhook-id"] = delivery.idempotency_key
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(self._key, delivery.idempotency_key, timestamp, delivery.body)
        return headers

    def _prepare(self, delivery: Delivery) -> requests.PreparedRequest:
        """Session.post would also merge cookies, auth, hooks and the environment per call:
        a third of the client's CPU per POST, for a fixed URL that needs none of it."""
        prepared = self._template.copy()
        prepared.headers = CaseInsensitiveDict(self.headers(delivery))
        prepared.headers["Content-Length"] = str(len(delivery.body))
        prepared.body = delivery.body
        return prepared

    def deliver(self, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        try:
            response = self._session().send(
                self._prepare(delivery), timeout=self._timeout, allow_redirects=False
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            return Outcome(Verdict.TRANSIENT, error=_describe(exc), latency_ms=_ms(started))
        except requests.RequestException as exc:
            return Outcome(Verdict.PERMANENT, error=_describe(exc), latency_ms=_ms(started))
        latency = _ms(started)
        status = response.status_code
        verdict = verdict_for_status(status)
        error = None if verdict is Verdict.SUCCESS else (response.reason or None)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
        return Outcome(verdict, status, error, latency, retry_after)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the webhook is one fixed URL: no proxy, netrc or CA env lookups
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0))
    session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0))
    return session


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _describe(exc: Exception) -> str:
    kind = "timeout" if isinstance(exc, requests.Timeout) else type(exc).__name__
    return f"{kind}: {exc}"[:_MAX_ERROR]
