"""Standard Webhooks verification, written from the specification, apart from the signer in
chalicelib/adapters/webhook.py, so that the two can disagree when one of them is wrong.

HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64 secret after
its `whsec_` prefix; the header holds space-separated "v1,<base64>" entries, any one of which
may match; a timestamp more than five minutes off is refused (replay protection).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

TOLERANCE_SECONDS = 5 * 60


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures and timestamp.isdigit()):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False
