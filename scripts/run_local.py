"""`make run`: the whole system on this machine, on embedded defaults.

    PostgreSQL   embedded (pgserver, data kept in .local/pgdata)   unless DATABASE_URL is set
    AWS          moto server on 127.0.0.1:4566, or whatever already answers at AWS_ENDPOINT_URL
                 (a real LocalStack, say); queue, DLQ with its redrive policy, ledger table,
                 named for this checkout (aws.local_names), so emulators can be shared
    API          `chalice local` on http://127.0.0.1:8000 (API_PORT)
    Lambda       the app's own schedule handler every SWEEP_EVERY seconds (default 60) and its
                 SQS handler fed batches the way the event source mapping does
    webhook      a receiver on http://127.0.0.1:8001 (SINK_PORT) that prints each delivery and
                 checks its signature                              unless WEBHOOK_URL is set
    ops topic    SNS on the emulator with a queue this console reads: each endpoint event
                 (endpoint.failing/disabled/enabled) printed       unless OPS_TOPIC_ARN is set

`DEMO=1` (`make demo`) sets the clock to 08:59:30 UTC today and creates a user whose birthday
is today in UTC: the message arrives within about a minute. Ctrl-C stops everything this
started; a second copy in the same folder refuses to start, and so does a copy whose ports
are taken (checked before anything starts, naming the setting that moves each one).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

# Run as a file, this folder heads sys.path and the project root is not on it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.adapters import migrations
from chalicelib.settings import Settings, SettingsError
from scripts.devstack import aws, ports
from scripts.devstack.paths import ROOT, local_dir

HOST = "127.0.0.1"
LOCAL_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"event-scheduler local signing key").decode()
DEMO_USER = {"firstName": "Ada", "lastName": "Lovelace", "timezone": "UTC"}
HEALTHY_WITHIN = 60.0


class StartFailed(Exception):
    """make run cannot start as configured; the message says what to change (no traceback)."""


@dataclass(frozen=True)
class Plan:
    """What make run will listen on, decided and checked before it starts anything."""

    api_port: int
    sink_port: int | None
    """None: WEBHOOK_URL is set, and make run starts no receiver."""
    endpoint: str
    emulator: str | None
    """The kind of emulator already answering at `endpoint`, or None: make run starts moto."""


def plan(env: Mapping[str, str], endpoint: str) -> Plan:
    """Checks every port make run would listen on; raises PortsUnavailable naming the setting
    to change for each one that is taken (another checkout's stack, say)."""
    api_port = ports.parse_port("API_PORT", env.get("API_PORT") or "8000")
    wanted = [ports.Wanted("API_PORT", api_port, purpose="the API")]
    sink_port = None
    if not env.get("WEBHOOK_URL"):
        sink_port = ports.parse_port("SINK_PORT", env.get("SINK_PORT") or "8001")
        wanted.append(ports.Wanted("SINK_PORT", sink_port, purpose="the webhook receiver"))
    found = aws.kind_of_emulator(endpoint)
    if found is None:
        wanted.append(emulator_port(env, endpoint))
    ports.check(wanted)
    return Plan(api_port, sink_port, endpoint, found)


def emulator_port(env: Mapping[str, str], endpoint: str) -> ports.Wanted:
    """Where make run would start its moto server, as nothing answers at `endpoint`."""
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname:
        raise StartFailed(
            f"nothing answers at {endpoint}, and make run starts moto only on http://: "
            "start that emulator first, or set AWS_ENDPOINT_URL=http://127.0.0.1:4566"
        )
    purpose = "the moto server make run starts: nothing there answers as an AWS emulator"
    host, port = parts.hostname, parts.port or 80
    if env.get("LOCALSTACK_HOST") and not env.get("AWS_ENDPOINT_URL"):
        return ports.Wanted("LOCALSTACK_HOST", port, host, f"{host}:{{port}}", purpose)
    return ports.Wanted("AWS_ENDPOINT_URL", port, host, f"http://{host}:{{port}}", purpose)


def hold_lock(local: Path) -> IO[str]:
    local.mkdir(parents=True, exist_ok=True)
    handle = (local / "run.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"make run is already running here ({local / 'run.lock'} is held); stop it first (Ctrl-C).")
    return handle


def demo_offset(now: datetime) -> timedelta:
    """The shift that makes "now" 08:59:30 UTC today: today's birthdays fall due in 30 s."""
    return (
        datetime.combine(now.date(), datetime.min.time(), UTC)
        + timedelta(hours=8, minutes=59, seconds=30)
        - now
    )


def start_database(stack: contextlib.ExitStack, local: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from scripts.devstack.postgres import EmbeddedPostgres, stop_leftover

    # This process holds the folder's lock: a server running on its data is a killed run's.
    leftover = stop_leftover(local / "pgdata")
    if leftover:
        print(f"postgres  stopped the PostgreSQL (pid {leftover}) a killed make run left running")
    server = EmbeddedPostgres(local / "pgdata")
    stack.callback(server.close)
    return server.url()


def start_emulator(stack: contextlib.ExitStack, local: Path, start: Plan) -> str:
    endpoint = start.endpoint
    if start.emulator:
        port = urlsplit(endpoint).port
        by = ports.holder(port) if port else None
        print(f"AWS       {endpoint}  (using the {start.emulator} emulator already running there)")
        if by:
            print(f"          {by}")
        aws.use_fake_credentials()
        return endpoint
    wanted = emulator_port({}, endpoint)
    journal = local / "aws.journal"
    try:
        server = aws.MotoServerProcess(wanted.host, wanted.port, log=local / "moto.log", journal=journal)
    except RuntimeError as exc:
        raise StartFailed(f"{exc}; see {local / 'moto.log'}") from None
    stack.callback(server.stop)
    print(f"AWS       {endpoint}  (moto server, pid {server.process.pid}, state kept in {journal})")
    return endpoint


def provision(env: Mapping[str, str], local: Path) -> aws.Resources:
    """This checkout's queue, DLQ and ledger table, whoever started the emulator."""
    names = aws.local_names(local)
    try:
        made = aws.provision(
            env["AWS_ENDPOINT_URL"],
            env["AWS_DEFAULT_REGION"],
            queue_name=names.queue,
            ledger_table=names.ledger_table,
            visibility_timeout=60,
        )
    except (BotoCoreError, ClientError, PynamoDBException) as exc:
        raise StartFailed(
            f"creating the queue and ledger table at {env['AWS_ENDPOINT_URL']} failed: {exc}"
        ) from None
    print(f"queues    {names.queue} and {names.queue}-dlq, ledger table {made.ledger_table}")
    print(f"          (this checkout's own, named for {local})")
    return made


def provision_ops_topic(env: dict[str, str], local: Path) -> str | None:
    """The operations topic (OPS_TOPIC_ARN) on the emulator, unless one is set; returns the
    queue subscribed to it, which the console reads (None: a topic of the developer's own)."""
    if env.get("OPS_TOPIC_ARN"):
        print(f"ops       endpoint events go to {env['OPS_TOPIC_ARN']} (OPS_TOPIC_ARN)")
        return None
    name = aws.local_names(local).ops_topic
    try:
        made = aws.create_ops_topic(env["AWS_ENDPOINT_URL"], env["AWS_DEFAULT_REGION"], name)
    except (BotoCoreError, ClientError) as exc:
        where = env["AWS_ENDPOINT_URL"]
        raise StartFailed(f"creating the operations topic at {where} failed: {exc}") from None
    env["OPS_TOPIC_ARN"] = made.topic_arn
    print(f"ops       topic {name}: this console prints each endpoint event (failing, disabled, enabled)")
    return made.queue_url


def start_api(
    stack: contextlib.ExitStack, env: dict[str, str], port: int, local: Path
) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "chalice"), "local", "--host", HOST, "--port", str(port)]
    # --no-autoreload: the reloader polls every file under the project each second, .venv and
    # the database included, and restarted the API on each write.
    command += ["--stage", "local", "--no-autoreload"]
    log = (local / "api.log").open("ab")
    api = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(stop_process, api)
    alive = lambda: api.poll() is None  # noqa: E731
    if not wait_healthy(f"http://{HOST}:{port}/health", alive=alive, timeout=HEALTHY_WITHIN):
        if not alive():
            raise StartFailed(f"the API exited with code {api.returncode}; see {local / 'api.log'}")
        raise StartFailed(f"the API did not answer within {HEALTHY_WITHIN:.0f} s; see {local / 'api.log'}")
    # The port was free a moment ago; if another server took it since, that one answered.
    owner = ports.listener(port)
    if not alive() or (owner is not None and owner.pid != api.pid):
        ports.check([ports.Wanted("API_PORT", port, purpose="the API")])
        raise StartFailed(f"the API lost API_PORT {port} to another process; see {local / 'api.log'}")
    return api


def wait_healthy(
    url: str, *, alive: Callable[[], bool], timeout: float, request_timeout: float = 2.0
) -> bool:
    """True once `url` answers 200; False once `alive()` is false or `timeout` seconds pass.
    Any request error is retried until then: refused (not listening yet), reset, and a read
    timeout (a first answer slower than `request_timeout` on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=request_timeout).status_code == 200:
                return True
        time.sleep(0.1)
    return False


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def start_sink(stack: contextlib.ExitStack, port: int, secret: str, offset: timedelta) -> str:
    from scripts.devstack.webhook_sink import WebhookSink

    sink = WebhookSink(
        HOST, port, echo=True, secret=secret, clock=lambda: time.time() + offset.total_seconds()
    )
    sink.record = False
    try:
        sink.start()
    except OSError:  # taken since plan() checked it
        ports.check([ports.Wanted("SINK_PORT", port, purpose="the webhook receiver")])
        raise
    stack.callback(sink.stop)
    return sink.url


def describe_webhook(env: Mapping[str, str]) -> list[str]:
    """The console's webhook lines for a WEBHOOK_URL of the developer's own: a warning when
    it goes unsigned (a cloud stage refuses to start that way; Settings)."""
    lines = [f"webhook   {env['WEBHOOK_URL']}"]
    if not env.get("WEBHOOK_SECRET"):
        lines.append(
            "warning   WEBHOOK_SECRET is not set: webhooks go unsigned (webhook-id and webhook-timestamp,"
            " no webhook-signature); set it to sign them, as every cloud stage must"
        )
    return lines


def start_ops_console(stack: contextlib.ExitStack, env: dict[str, str], queue_url: str) -> None:
    from chalicelib.adapters import sqs
    from scripts.devstack.ops_console import OpsConsole

    client = sqs.client(env["AWS_DEFAULT_REGION"], env["AWS_ENDPOINT_URL"])
    console = OpsConsole(sqs.SqsQueue(client, queue_url)).start()
    stack.callback(console.stop)


def start_runner(stack: contextlib.ExitStack, env: dict[str, str]) -> None:
    """The Lambda side, in this process: the app's handlers, built from the same environment,
    and a progress line every PROGRESS_EVERY seconds (10) while there is work."""
    import app
    from chalicelib import bootstrap
    from chalicelib.adapters import sqs
    from scripts.devstack import progress
    from scripts.devstack.lambda_runner import LambdaRunner

    container = bootstrap.container()
    report = progress.Progress(
        in_flight=progress.postgres_in_flight(env["DATABASE_URL"]),
        in_queue=sqs.SqsQueue(
            sqs.client(env["AWS_DEFAULT_REGION"], env["AWS_ENDPOINT_URL"]), env["QUEUE_URL"]
        ).depth,
        now=container.clock.now,
        every=float(env.get("PROGRESS_EVERY", "10")),
    )
    runner = LambdaRunner(
        report.count_sweep(app.sweep),
        app.deliver,
        container.queue,
        now=container.clock.now,
        sweep_every=float(env.get("SWEEP_EVERY", "60")),
    )
    runner.start()
    stack.callback(runner.stop)
    report.start()
    stack.callback(report.stop)


def create_demo_user(api_url: str, token: str, today: datetime) -> None:
    body = {
        **DEMO_USER,
        "dateOfBirth": f"1990-{today:%m-%d}" if f"{today:%m-%d}" != "02-29" else "1992-02-29",
    }
    response = requests.post(
        f"{api_url}/user", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    print(f"demo      created {body['firstName']} {body['lastName']}, born {body['dateOfBirth']} in UTC;")
    print("          the birthday message arrives at 09:00 UTC on the shifted clock, about 30-60 s from now")


def main() -> int:
    started = time.monotonic()
    local = local_dir()
    lock = hold_lock(local)
    demo = os.environ.get("DEMO") == "1"
    env = dict(os.environ)
    env.setdefault("STAGE", "local")
    if demo:
        env["CLOCK_OFFSET"] = f"{int(demo_offset(datetime.now(UTC)).total_seconds())}s"
        env.setdefault("SWEEP_EVERY", "10")
    # Claimed events whose messages died with the emulator come back when their lease ends.
    env.setdefault("DELIVERY_LEASE", "2m")
    # The console shows deliveries and problems; LOG_LEVEL=INFO brings back every JSON log
    # line, POWERTOOLS_METRICS_DISABLED=false the EMF metric documents.
    env.setdefault("LOG_LEVEL", "WARNING")
    env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    try:
        run(env, local, plan(env, aws.emulator_endpoint()), demo, started)
    except (StartFailed, ports.PortsUnavailable, SettingsError) as exc:
        for line in str(exc).splitlines():
            print(f"make run: {line}", file=sys.stderr)
        return 1
    finally:
        lock.close()
    return 0


def run(env: dict[str, str], local: Path, start: Plan, demo: bool, started: float) -> None:
    with contextlib.ExitStack() as stack:
        env["DATABASE_URL"] = start_database(stack, local)
        for m in migrations.upgrade(env["DATABASE_URL"]):
            print(f"migrated  {m.version:04d}_{m.name}")
        env["AWS_ENDPOINT_URL"] = start_emulator(stack, local, start)
        env.update({k: os.environ[k] for k in aws.FAKE_CREDENTIALS})
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        resources = provision(env, local)
        env.update(
            QUEUE_URL=resources.queue_url, DLQ_URL=resources.dlq_url, LEDGER_TABLE=resources.ledger_table
        )
        ops_queue = provision_ops_topic(env, local)
        offset = Settings.from_env(env).clock_offset
        if start.sink_port is not None:
            env.setdefault("WEBHOOK_SECRET", LOCAL_WEBHOOK_SECRET)
            env["WEBHOOK_URL"] = start_sink(stack, start.sink_port, env["WEBHOOK_SECRET"], offset)
            print(f"webhook   {env['WEBHOOK_URL']}  (this console prints each delivery)")
        else:
            print("\n".join(describe_webhook(env)))
        os.environ.update(env)  # the in-process Lambda runner reads the same settings
        api_url = f"http://{HOST}:{start.api_port}"
        start_api(stack, env, start.api_port, local)
        start_runner(stack, env)
        if ops_queue:
            start_ops_console(stack, env, ops_queue)
        token = admin_token(env)
        print(f"API       {api_url}  (healthy after {time.monotonic() - started:.1f}s)")
        print(f"database  {env['DATABASE_URL']}")
        if offset:
            shifted = datetime.now(UTC) + offset
            print(f"clock     shifted by {offset} (CLOCK_OFFSET): now is {shifted:%Y-%m-%d %H:%M:%S} UTC")
        print(f"token     {token}")
        print(f'          export TOKEN={token}; curl -H "Authorization: Bearer $TOKEN" {api_url}/user')
        print(f"console   {api_url}/console#token={token}  (opens signed in; the token leaves the URL)")
        if demo:
            create_demo_user(api_url, token, datetime.now(UTC) + offset)
        print("ready     Ctrl-C stops everything", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
        # A terminal's Ctrl-C reaches the children too, and a second one must not cut the
        # clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping", flush=True)


def admin_token(env: dict[str, Any]) -> str:
    from scripts.mint_token import local_secret, mint

    secret = local_secret(env).secret_for(env.get("STAGE", "local"))
    assert secret is not None
    return mint("admin", "local-admin", secret, ttl=12 * 3600)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # timely in a log file
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop on SIGTERM as on Ctrl-C
    sys.exit(main())
