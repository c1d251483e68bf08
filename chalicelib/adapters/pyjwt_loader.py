"""pyjwt, imported on first use, without cryptography when only HS256 is needed.

pyjwt imports cryptography (its RSA, EC and EdDSA keys, ~50-100 ms of a cold start) whenever
it is installed, though HMAC needs only the standard library. A container verifies either
HS256 tokens or JWKS ones, fixed by its settings, so the first import decides: for HS256,
pyjwt is imported with cryptography hidden (pyjwt then offers HMAC alone, which is all the
HS256 key source accepts anyway). If pyjwt was already imported, it is used as it is.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def load(*, asymmetric: bool) -> ModuleType:
    """The `jwt` module; `asymmetric=True` when RSA keys will be used (a JWKS)."""
    with _lock:
        if "jwt" not in sys.modules and not asymmetric and "cryptography" not in sys.modules:
            sys.modules["cryptography"] = None  # type: ignore[assignment]  # pyjwt: has_crypto = False
            try:
                import jwt
            finally:
                del sys.modules["cryptography"]
    import jwt

    if asymmetric and not jwt.algorithms.has_crypto:
        raise RuntimeError("pyjwt was imported for HS256 only in this process; RS256 needs cryptography")
    return jwt
