#!/usr/bin/env python3
"""Mint a JWT for the local stack: `scripts/mint_token.py --role admin [--sub ID] [--ttl SECONDS]`.

Prints the token alone on its last line (stdout), so `TOKEN=$(scripts/mint_token.py --role admin)`
works. Signs with JWT_SECRET, or with the documented local secret when STAGE is local (the
default); adds JWT_ISSUER and JWT_AUDIENCE when they are set, as the app then requires them.
A negative --ttl gives a token that has already expired, for tests.
"""

from __future__ import annotations

import os
import sys

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import time
from collections.abc import Mapping

import jwt

from chalicelib.domain.access import Role
from chalicelib.settings import AuthSettings, SettingsError

DEFAULT_TTL_SECONDS = 3600


def mint(
    role: str,
    subject: str,
    secret: str,
    ttl: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    email: str | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": subject, "roles": [role], "iat": issued, "exp": issued + ttl}
    if ttl < 0:
        claims["iat"] = issued + ttl - 60  # issued before it expired, as a real one would be
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "local"})


def local_secret(env: Mapping[str, str]) -> AuthSettings:
    stage = env.get("STAGE", "local")
    auth = AuthSettings.from_env(env, stage)
    auth.check(stage)
    if auth.jwks_url:
        raise SettingsError("JWKS_URL is set: tokens come from that identity provider, not from here")
    if auth.secret_for(stage) is None:
        raise SettingsError(f"STAGE={stage} has no local secret: set JWT_SECRET")
    return auth


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", help="the subject; for --role user, that user's id")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds; negative = expired")
    parser.add_argument("--email")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    if args.role == Role.USER and not args.sub:
        parser.error("--role user needs --sub USER_ID (the user it may read and change)")
    subject = args.sub or f"local-{args.role}"
    try:
        auth = local_secret(env)
    except SettingsError as exc:
        parser.exit(2, f"mint_token.py: {exc}\n")
    secret = auth.secret_for(env.get("STAGE", "local"))
    assert secret is not None
    token = mint(
        args.role, subject, secret, args.ttl, issuer=auth.issuer, audience=auth.audience, email=args.email
    )
    print(f"# role={args.role} sub={subject} expires in {args.ttl}s", file=sys.stderr)
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
