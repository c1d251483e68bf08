"""A moto server whose state outlives it, as AWS's would: every acknowledged write is journaled.

moto keeps everything in memory, so the ledger, the queue and its messages ended with each
`make run`, and a restart re-POSTed what had been delivered but not yet finalised. This
serves moto's own WSGI app behind a journal: each request that changes something runs under
one lock (so the journal's order is the order moto applied them), and when moto answers 2xx
one JSON line goes to the journal with os.write before the answer leaves. An acknowledged
write is then in the kernel's hands: it survives a kill -9 of any process (not a power cut;
there is no fsync, which would cost each write a disk flush). At start the journal is
replayed, in order, before the port opens.

- DynamoDB writes and SQS queue calls (create, attributes, purge, delete, tags) are journaled
  as requests and replayed through moto: given the same state, moto answers them the same way.
- SQS messages are journaled by what became of them, since a replayed receive would hand out
  other receipt handles: sent (id, body, attributes, sent time, delay), seen (receive count,
  first receive, visible-at) after a receive or a visibility change, moved to the DLQ by the
  redrive policy, deleted. Each live message comes back with its id, receive count and
  visibility; receipt handles from before do not (their holders are gone).
- Checkpoints keep the replay short: at each start, every CHECKPOINT_EVERY lines and at a
  clean stop the journal is rewritten (to a new file, fsynced, renamed over the old) as the
  table and queue requests followed by every item and live message in bulk.

    python -m scripts.devstack.durable_moto --host 127.0.0.1 --port 4566 --journal .local/aws.journal
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sqs.models import Message, Queue, sqs_backends
from werkzeug.serving import make_server
from werkzeug.test import Client

from scripts.devstack import moto_speedup

DYNAMODB_ITEM_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
DYNAMODB_WRITES = {
    "CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive", "PutItem", "UpdateItem",
    "DeleteItem", "BatchWriteItem", "TransactWriteItems", "TagResource", "UntagResource",
}  # fmt: skip
SQS_REQUESTS = {
    "CreateQueue", "DeleteQueue", "SetQueueAttributes", "PurgeQueue", "TagQueue", "UntagQueue",
}  # fmt: skip
SQS_MESSAGES = {
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
}  # fmt: skip
_REGION = re.compile(r"Credential=[^/]+/\d+/([^/]+)/")
CHUNK = 1000
"""Items or messages per line of a checkpoint."""
CHECKPOINT_EVERY = 5000
"""Journal lines between checkpoints: replaying a request costs ~3-15 ms, loading a
checkpointed item ~0.1 ms."""
_KEPT_HEADERS = ("Host", "Authorization", "X-Amz-Target", "Content-Type", "X-Amz-Date")
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class Journal:
    """The append-only file: one JSON object a line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        self._cut_torn_tail()

    def _cut_torn_tail(self) -> None:
        """A line a kill cut short was never acknowledged; the next one must not extend it."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.ftruncate(self._fd, data.rfind(b"\n") + 1)

    def append(self, entry: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())

    def rewrite(self, entries: Iterable[dict[str, Any]]) -> None:
        """Replaces the journal with `entries` (a checkpoint), atomically: the old one stays
        whole until the new one is complete on disk."""
        temporary = self.path.with_suffix(".checkpoint")
        with temporary.open("wb") as out:
            for entry in entries:
                out.write((json.dumps(entry, separators=(",", ":")) + "\n").encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND, 0o600)

    def entries(self) -> Iterable[dict[str, Any]]:
        with self.path.open("rb") as lines:
            for line in lines:
                yield json.loads(line)


class JournaledApp:
    """moto's WSGI app, each changing request journaled before its answer is returned."""

    def __init__(self, app: WsgiApp, journal: Journal, checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.app = app
        self.journal = journal
        self.checkpoint_every = checkpoint_every
        self.lock = threading.Lock()
        self._written = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, action = target.partition(".")
        journaled = (service.startswith("DynamoDB") and action in DYNAMODB_WRITES) or (
            service == "AmazonSQS" and action in SQS_REQUESTS | SQS_MESSAGES
        )
        if not journaled:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = json.loads(body or b"{}")
        region = _region(environ.get("HTTP_AUTHORIZATION", ""))
        long_poll = action == "ReceiveMessage" and int(request.get("WaitTimeSeconds") or 0) > 0
        with self.lock if not long_poll else _NoLock():
            before = _sqs_before(action, request, region)
            status, headers, answer = _call(self.app, environ, body)
            if 200 <= status < 300:
                with self.lock if long_poll else _NoLock():
                    entry = self._entry(service, action, environ, body, request, region, before, answer)
                    if entry:
                        self.journal.append(entry)
                        self._written += 1
                        if self._written >= self.checkpoint_every:  # bounds the replay after a kill
                            self.checkpoint()
        start_response(f"{status} {'OK' if status < 400 else 'ERROR'}", headers)
        return [answer]

    def _entry(
        self,
        service: str,
        action: str,
        environ: dict[str, Any],
        body: bytes,
        request: dict[str, Any],
        region: str,
        before: Any,
        answer: bytes,
    ) -> dict[str, Any] | None:
        if service != "AmazonSQS" or action in SQS_REQUESTS:
            headers = {h: environ[_wsgi(h)] for h in _KEPT_HEADERS if _wsgi(h) in environ}
            return {"t": "req", "path": environ.get("PATH_INFO", "/"), "h": headers, "b": body.decode()}
        queue = _queue(request.get("QueueUrl", ""), region)
        if queue is None:
            return None
        where = {"r": region, "a": queue.account_id, "q": queue.name}
        response = json.loads(answer or b"{}")
        if action in ("SendMessage", "SendMessageBatch"):
            ids = [response["MessageId"]] if "MessageId" in response else _ok_ids(response)
            return {"t": "put", **where, "m": [_sent(m) for m in _find(queue, set(ids), newest=True)]}
        if action == "ReceiveMessage":
            ids = {m["MessageId"] for m in response.get("Messages", [])}
            entry: dict[str, Any] = {"t": "seen", **where, "m": [_seen(m) for m in _find(queue, ids)]}
            depth, dlq = before
            moved = depth - len(queue._messages)
            if moved > 0 and queue.dead_letter_queue is not None and dlq is not None:
                entry["dlq"] = {"q": dlq.name, "ids": [m.id for m in dlq._messages[-moved:]]}
            return entry if entry["m"] or "dlq" in entry else None
        if action in ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
            return {"t": "seen", **where, "m": [_seen(m) for m in _find(queue, set(before.values()))]}
        # DeleteMessage(Batch): the ids behind the receipt handles that were deleted.
        if action == "DeleteMessage":
            gone = list(before.values())
        else:
            ok = {e["Id"] for e in response.get("Successful", [])}
            gone = [mid for entry_id, mid in before.items() if entry_id in ok]
        return {"t": "del", **where, "ids": gone} if gone else None

    def replay(self) -> int:
        """Brings the journal's state back; returns how many entries it read."""
        client = Client(self.app)
        live: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        count = 0
        for entry in self.journal.entries():
            count += 1
            kind = entry["t"]
            if kind == "items":
                table = dynamodb_backends[entry["a"]][entry["r"]].tables[entry["table"]]
                for attributes in entry["items"]:
                    table.put_item(attributes)
                continue
            if kind == "req":
                client.post(entry["path"], headers=entry["h"], data=entry["b"].encode())
                if entry["h"].get("X-Amz-Target") in ("AmazonSQS.PurgeQueue", "AmazonSQS.DeleteQueue"):
                    name = json.loads(entry["b"])["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
                    for key in [k for k in live if k[2] == name]:
                        live[key].clear()
                continue
            messages = live.setdefault((entry["r"], entry["a"], entry["q"]), {})
            if kind == "put":
                for m in entry["m"]:
                    messages[m["id"]] = m
            elif kind == "seen":
                for m in entry["m"]:
                    if m["id"] in messages:
                        messages[m["id"]].update(m)
                if "dlq" in entry:
                    dlq = live.setdefault((entry["r"], entry["a"], entry["dlq"]["q"]), {})
                    for mid in entry["dlq"]["ids"]:
                        if mid in messages:
                            dlq[mid] = messages.pop(mid)
            elif kind == "del":
                for mid in entry["ids"]:
                    messages.pop(mid, None)
        for (region, account, name), messages in live.items():
            queue = sqs_backends[account][region].queues.get(name)
            if queue is not None:
                queue._messages.extend(_restored(m) for m in messages.values())
        return count

    def checkpoint(self) -> None:
        """Rewrites the journal as the state it replayed to, so the next start reads each
        item and message once instead of its whole history: the table and queue requests as
        they were, then every item and live message."""
        definitions = [
            e
            for e in self.journal.entries()
            if e["t"] == "req"
            and e["h"].get("X-Amz-Target", "").partition(".")[2] not in DYNAMODB_ITEM_WRITES
        ]
        self.journal.rewrite([*definitions, *_state()])
        self._written = 0


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _wsgi(header: str) -> str:
    return "CONTENT_TYPE" if header == "Content-Type" else "HTTP_" + header.upper().replace("-", "_")


def _action(target: str) -> str:
    return target.partition(".")[2]


def _region(authorization: str) -> str:
    found = _REGION.search(authorization)
    return found.group(1) if found else "us-east-1"


def _call(app: WsgiApp, environ: dict[str, Any], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    environ["wsgi.input"] = io.BytesIO(body)
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), headers

    chunks = app(environ, start_response)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return answer["status"], answer["headers"], data


def _queue(url: str, region: str) -> Queue | None:
    parts = url.rstrip("/").rsplit("/", 2)
    if len(parts) < 3:
        return None
    account, name = parts[-2], parts[-1]
    backend = sqs_backends[account][region]
    queue: Queue | None = backend.queues.get(name)
    return queue


def _sqs_before(action: str, request: dict[str, Any], region: str) -> Any:
    """What must be read before moto applies the request: receipt handles name messages only
    until they are deleted; a receive may move messages to the DLQ."""
    if action not in SQS_MESSAGES or action.startswith("Send"):
        return None
    queue = _queue(request.get("QueueUrl", ""), region)
    if queue is None:
        return None
    if action == "ReceiveMessage":
        return len(queue._messages), queue.dead_letter_queue
    handles = (
        {"": request.get("ReceiptHandle", "")}
        if "ReceiptHandle" in request
        else {e["Id"]: e["ReceiptHandle"] for e in request.get("Entries", [])}
    )
    found: dict[str, str] = {}
    for message in queue._messages:
        for entry_id, handle in handles.items():
            if message.had_receipt_handle(handle):
                found[entry_id] = message.id
    return found


def _ok_ids(response: dict[str, Any]) -> list[str]:
    return [e["MessageId"] for e in response.get("Successful", [])]


def _find(queue: Queue, ids: set[str], *, newest: bool = False) -> list[Message]:
    messages = reversed(queue._messages) if newest else iter(queue._messages)
    found = []
    for message in messages:
        if message.id in ids:
            found.append(message)
            if len(found) == len(ids):
                break
    return found


def _sent(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "body": m.body,
        "attrs": m.message_attributes,
        "sys": m.system_attributes,
        "sent": m.sent_timestamp,
        "delayed": m.delayed_until,
        **_seen(m),
    }


def _seen(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "count": m.approximate_receive_count,
        "first": m.approximate_first_receive_timestamp,
        "visible": m.visible_at,
    }


def _state() -> Iterable[dict[str, Any]]:
    for account, regions in dynamodb_backends.items():
        for region, backend in regions.items():
            for name, table in backend.tables.items():
                items = [item.to_json()["Attributes"] for item in table.all_items()]
                for start in range(0, len(items), CHUNK):
                    yield {
                        "t": "items",
                        "r": region,
                        "a": account,
                        "table": name,
                        "items": items[start : start + CHUNK],
                    }
    for account, regions in sqs_backends.items():
        for region, backend in regions.items():
            for name, queue in backend.queues.items():
                messages = [_sent(m) for m in queue._messages]
                for start in range(0, len(messages), CHUNK):
                    yield {
                        "t": "put",
                        "r": region,
                        "a": account,
                        "q": name,
                        "m": messages[start : start + CHUNK],
                    }


def _restored(m: dict[str, Any]) -> Message:
    message = Message(m["id"], m["body"], m["sys"] or None)
    message.message_attributes = m["attrs"]
    message.sent_timestamp = m["sent"]
    message.delayed_until = m["delayed"]
    message.approximate_receive_count = m["count"]
    message.approximate_first_receive_timestamp = m["first"]
    message.visible_at = m["visible"]
    return message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    moto_speedup.install()
    moto = DomainDispatcherApplication(create_backend_app)
    app = JournaledApp(moto, Journal(args.journal), args.checkpoint_every)
    started = time.monotonic()
    replayed = app.replay()
    app.checkpoint()
    took = time.monotonic() - started
    print(f"replayed {replayed} journal entries from {args.journal} in {took:.1f}s", flush=True)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        server.serve_forever()
    for name in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches us, then make run's SIGTERM
        signal.signal(name, signal.SIG_IGN)
    with app.lock:  # a clean stop leaves a checkpoint: the next start is quick
        app.checkpoint()
    return 0


if __name__ == "__main__":
    sys.exit(main())
