"""GET /console and /console/assets/{name}: the console's page and its static files, read from
chalicelib/console (shipped in the Lambda package) and served as they are.

The page holds no data (each view asks the API with the token the person signs in with), so
these routes take no token. Every answer carries a Content-Security-Policy without
'unsafe-inline': only the app's own scripts and styles run, and text a user or a receiver wrote
can only ever be text.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from chalice.app import Response

CONSOLE = Path(__file__).resolve().parent.parent / "console"
ASSETS = CONSOLE / "assets"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
# A vendored file's name carries its version (preact-11.2.0.mjs): it never changes in place.
IMMUTABLE = "public, max-age=31536000, immutable"
# The page and the console's own files change with each deploy: asked again each time.
REVALIDATE = "no-cache"


def assets() -> frozenset[str]:
    """The names a request may ask for: the files in chalicelib/console/assets, no other."""
    return frozenset(p.name for p in ASSETS.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES)


@cache
def vendored() -> frozenset[str]:
    manifest = json.loads((CONSOLE / "vendor.json").read_text(encoding="utf-8"))
    return frozenset(name for package in manifest["packages"] for name in package["files"])


# Read on each request, not once: a few small files, and `make run` serves an edit at once.
def page() -> Response:
    return _text(200, (CONSOLE / "index.html").read_text(encoding="utf-8"), ".html", REVALIDATE)


def asset(name: str) -> Response:
    if name not in assets():
        return _text(404, f"no console asset named {name!r}\n", ".txt", REVALIDATE)
    text = (ASSETS / name).read_text(encoding="utf-8")
    return _text(200, text, Path(name).suffix, IMMUTABLE if name in vendored() else REVALIDATE)


def _text(status: int, body: str, suffix: str, cache_control: str) -> Response:
    headers: dict[str, str | list[str]] = {
        **SECURITY_HEADERS,
        "Content-Type": CONTENT_TYPES[suffix],
        "Cache-Control": cache_control,
    }
    return Response(body=body, status_code=status, headers=headers)
