"""The sink's verifier is the Standard Webhooks library's: our signer's headers pass it, and it
refuses what any receiver would (changed body or id, an old timestamp, an unknown version).
Timestamps are taken inside each test, since the library judges them against real time."""

from __future__ import annotations

import time

from chalicelib.adapters.webhook import sign, signing_key
from scripts.devstack.webhook_sink import verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's example secret
BODY = b'{"test": 2432232314}'


def signed(msg_id: str = "msg_1", age: int = 0, body: bytes = BODY) -> dict[str, str]:
    timestamp = int(time.time()) - age
    signature = sign(signing_key(SECRET), msg_id, timestamp, body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_our_signature_verifies_with_the_standard_library() -> None:
    assert verify(SECRET, signed(), BODY)
    assert verify(SECRET, signed(age=240), BODY)  # within the five-minute window


def test_one_valid_signature_among_several_is_enough() -> None:
    headers = signed()
    headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]
    assert verify(SECRET, headers, BODY)


def test_a_changed_body_id_old_timestamp_or_unknown_version_fails() -> None:
    assert not verify(SECRET, signed(), b'{"test": 2432232315}')
    assert not verify(SECRET, {**signed(), "webhook-id": "msg_x"}, BODY)
    assert not verify(SECRET, signed(age=400), BODY)
    assert not verify(SECRET, {**signed(), "webhook-signature": "v2,x"}, BODY)
    assert not verify(SECRET, {**signed(), "webhook-signature": "garbage"}, BODY)
