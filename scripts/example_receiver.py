"""An example webhook receiver, as the team behind the webhook would write it (stdlib only).

    WEBHOOK_SECRET=whsec_... scripts/example_receiver.py [--port 8002] [--db receiver.sqlite3]

For each POST it
1. checks the Standard Webhooks signature and timestamp (refuses with 401 otherwise);
2. deduplicates on `webhook-id`: the scheduler delivers at least once (a retry after a lost
   answer, a redelivered message), always with the same id for one occurrence; the id is
   recorded in the same SQLite transaction as the work, so a crash in between redoes both;
3. acts on the team's own data: `externalId` finds the customer in the team's system, and
   `metadata` (here `channel` and `locale`) says how to reach them.
It answers 2xx only once the work is recorded; anything else makes the scheduler retry.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import sqlite3
import sys
import time
from collections.abc import Mapping

TOLERANCE_SECONDS = 5 * 60


def signature_ok(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not (msg_id and stamp.isdigit()) or abs(now - int(stamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    return any(
        hmac.compare_digest(sig.encode(), b"v1," + expected)
        for sig in headers.get("webhook-signature", "").split()
    )


class Receiver:
    def __init__(self, secret: str, db_path: str) -> None:
        self.secret = secret
        self.db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS seen (webhook_id TEXT PRIMARY KEY, received_at REAL);"
            "CREATE TABLE IF NOT EXISTS outbox (webhook_id TEXT, customer TEXT, channel TEXT, text TEXT);"
        )

    def handle(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> tuple[int, str]:
        headers = {k.lower(): v for k, v in headers.items()}
        if not signature_ok(self.secret, headers, body, time.time() if now is None else now):
            return 401, "bad signature"
        event = json.loads(body)
        webhook_id = headers["webhook-id"]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("SELECT 1 FROM seen WHERE webhook_id = ?", (webhook_id,)).fetchone():
                self.db.execute("ROLLBACK")
                return 200, "duplicate: already handled"  # 2xx, so that the scheduler stops
            metadata = event.get("metadata") or {}
            customer = event.get("externalId") or f"scheduler:{event['userId']}"  # your id, else ours
            channel = metadata.get("channel", "email")
            text = event["message"] if metadata.get("locale", "en")[:2] == "en" else f"🎉 {event['message']}"
            self.db.execute("INSERT INTO seen VALUES (?, ?)", (webhook_id, time.time()))
            self.db.execute("INSERT INTO outbox VALUES (?, ?, ?, ?)", (webhook_id, customer, channel, text))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return 200, f"queued a {channel} message for {customer}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--db", default="receiver.sqlite3")
    args = parser.parse_args(argv)
    receiver = Receiver(os.environ["WEBHOOK_SECRET"], args.db)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, text = receiver.handle(dict(self.headers), body)
            print(status, text, flush=True)
            self.send_response(status)
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

    http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
