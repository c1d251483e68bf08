from __future__ import annotations

import pytest

from chalicelib.adapters.webhook import HttpWebhookSender, sign, signing_key
from chalicelib.ports import Delivery
from chalicelib.settings import SettingsError

# The example in the Standard Webhooks specification (standardwebhooks.com / svix docs).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_matches_the_specifications_example() -> None:
    assert sign(signing_key(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_whsec_prefix_is_optional() -> None:
    assert signing_key(SPEC_SECRET) == signing_key(SPEC_SECRET.removeprefix("whsec_"))


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "%%%"])
def test_a_secret_that_is_not_base64_is_a_settings_error(secret: str) -> None:
    with pytest.raises(SettingsError):
        signing_key(secret)


def test_headers_carry_the_key_three_ways_and_the_signature_only_with_a_secret() -> None:
    delivery = Delivery("key-1", b"{}")
    unsigned = HttpWebhookSender("http://127.0.0.1:9/", wall_clock=lambda: 1614265330.7).headers(delivery)
    assert unsigned == {  # the Standard Webhooks id and timestamp even unsigned: receivers dedupe on the id
        "Content-Type": "application/json",
        "Idempotency-Key": "key-1",
        "X-Idempotency-Key": "key-1",
        "webhook-id": "key-1",
        "webhook-timestamp": "1614265330",
    }
    signed = HttpWebhookSender("http://127.0.0.1:9/", SPEC_SECRET, wall_clock=lambda: 1614265330.7).headers(
        delivery
    )
    timestamp = 1614265330  # the real clock's whole seconds, not the app's
    assert signed["webhook-id"] == "key-1"
    assert signed["webhook-timestamp"] == str(timestamp)
    assert signed["webhook-signature"] == sign(signing_key(SPEC_SECRET), "key-1", timestamp, b"{}")
