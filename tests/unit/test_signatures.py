"""The independent Standard Webhooks verifier, against the specification's own example."""

from __future__ import annotations

from scripts.devstack.signatures import verify_signature

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
SPEC_BODY = b'{"test": 2432232314}'


def test_the_specification_example_verifies() -> None:
    assert verify_signature(SPEC_SECRET, SPEC_HEADERS, SPEC_BODY, now=1614265330)


def test_one_valid_signature_among_several_is_enough() -> None:
    headers = {**SPEC_HEADERS, "webhook-signature": "v1,bm90IGl0 " + SPEC_HEADERS["webhook-signature"]}
    assert verify_signature(SPEC_SECRET, headers, SPEC_BODY, now=1614265330)


def test_a_changed_body_id_or_old_timestamp_fails() -> None:
    assert not verify_signature(SPEC_SECRET, SPEC_HEADERS, b'{"test": 2432232315}', now=1614265330)
    assert not verify_signature(
        SPEC_SECRET, {**SPEC_HEADERS, "webhook-id": "msg_x"}, SPEC_BODY, now=1614265330
    )
    assert not verify_signature(SPEC_SECRET, SPEC_HEADERS, SPEC_BODY, now=1614265330 + 301)
    assert not verify_signature(SPEC_SECRET, {**SPEC_HEADERS, "webhook-signature": "v2,x"}, SPEC_BODY)
