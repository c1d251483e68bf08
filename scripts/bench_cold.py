"""Cold starts of each function, from the deployment package, the way Lambda runs it.

    scripts/bench_cold.py [--samples 7] [--stage prod]

Builds the package (scripts/build_package.py, what `make package` and the CDK deploy), unzips
it into a read-only folder, and times each function's cold path in a fresh process per sample:
`python3.11 -I -S -B` with only the bundle and a "runtime" folder on sys.path (boto3, botocore,
s3transfer, python-dateutil and six, which the Lambda runtime provides and the package leaves
out; precompiled, as the runtime's are). Each time is from process start to the answer.

- app_import: `import app` (Lambda's init phase, the same module for every function);
- authorizer: the first answer of `jwt_auth` to an HS256 token (JWT_SECRET in the
  environment); authorizer_secret_arn: the same with JWT_SECRET_ARN (Secrets Manager), and
  authorizer_secret_arn_extension through the extension's stand-in (as deployed);
- api_get_user: the first `GET /user/{id}` through the API handler, with the database URL
  from DB_SECRET_ARN (Secrets Manager on a moto server this script starts: botocore, a client,
  GetSecretValue) and a real embedded PostgreSQL; api_get_user_extension: the same with
  PARAMETERS_SECRETS_EXTENSION_HTTP_PORT set, the secret read from a stand-in for the
  extension (below): what the CDK stack deploys;
- worker_imports, sweeper_imports: `import app`, then every module of ours that the function's
  first call loads (each importing its libraries: psycopg, botocore, pynamodb...), no I/O;
- worker: the first (empty) batch: the worker and every adapter it uses built (an SQS client,
  the ledger, the webhook sender); sweeper: the first sweep of an empty database (connects,
  claims nothing). Both with DATABASE_URL set, as the bench gives them no secret;
- hello_import, hello_answer: a Chalice hello-world, packaged by the same build, the baseline.

Secrets: `cached_get_secret_value` is what the app does without the extension (botocore
imported, a client made, one GetSecretValue, kept for the container's life); `extension_get`
models the AWS Parameters and Secrets Lambda Extension (stdlib HTTP GET to a local port
answering from memory, as the extension does on a cache hit). The extension's own start and its
first fetch from Secrets Manager (the same network call the SDK makes) cannot run here and are
not measured.

Ratios are to hello_answer (process start to the hello-world's first answer). Medians of
--samples runs, interleaved; the last line is one JSON object.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import compileall
import contextlib
import http.server
import importlib.util
import json
import py_compile
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import jwt

from chalicelib.adapters.secrets import EXTENSION_PORT
from scripts import build_package
from scripts.devstack import aws
from scripts.devstack.postgres import fresh_database

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "cold-bench-" + "s" * 40
SESSION_TOKEN = "testing"  # noqa: S105 (a fake: AWS_SESSION_TOKEN in the functions' environment)
TARGETS = {
    "authorizer": 5.0,
    "api_get_user": 10.0,
    "api_get_user_extension": 10.0,
    "worker_imports": 8.0,
    "sweeper_imports": 8.0,
}
ZIP_TARGET_MB = 15.0
ANSWER = "cold-bench-answer "

HELLO_APP = """from chalice import Chalice

app = Chalice(app_name="hello")


@app.route("/")
def index():
    return {"hello": "world"}
"""

# Runs in the fresh interpreter: only the stdlib, the bundle and the runtime folder.
PROBE = r"""
import json, sys
task, runtime, scenario, payload = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
MARK = "cold-bench-answer "  # the handlers log to stdout too
sys.path[:0] = [task, runtime]


class Context:
    aws_request_id = "cold-bench"
    function_name = "cold-bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:cold-bench"

    def get_remaining_time_in_millis(self):
        return 60000


def api_event(method, resource, path, params=None, body=None):
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "x"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": params, "stageVariables": None, "isBase64Encoded": False, "body": body,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": path, "stage": "v1",
            "requestId": "r", "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"userId": "cold-bench", "roles": "admin", "email": ""},
        },
    }


if scenario == "import":
    import app
    answer = "imported"
elif scenario == "imports":
    import importlib
    import app
    for name in payload["modules"]:
        importlib.import_module(name)
    answer = len(payload["modules"])
elif scenario == "hello":
    import app
    answer = app.app(api_event("GET", "/", "/"), Context())["statusCode"]
elif scenario == "authorizer":
    import app
    event = {"type": "TOKEN", "authorizationToken": "Bearer " + payload["token"],
             "methodArn": "arn:aws:execute-api:us-east-1:000000000000:api/v1/GET/user"}
    answer = app.jwt_auth(event, Context())["principalId"]
elif scenario == "create_user":
    import app
    body = json.dumps({"firstName": "Cold", "lastName": "Start", "dateOfBirth": "1990-05-17",
                       "timezone": "Europe/Paris"})
    response = app.app(api_event("POST", "/user", "/user", body=body), Context())
    answer = json.loads(response["body"])["id"]
elif scenario == "get_user":
    import app
    uid = payload["user_id"]
    response = app.app(api_event("GET", "/user/{user_id}", "/user/" + uid, {"user_id": uid}), Context())
    assert response["statusCode"] == 200, response
    answer = json.loads(response["body"])["id"]
elif scenario == "worker":
    import app
    answer = app.deliver({"Records": []}, Context())
elif scenario == "sweeper":
    import app
    event = {"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "0", "time": payload["now"], "region": "us-east-1", "detail": {},
             "resources": ["arn:aws:events:us-east-1:0:rule/sweep"]}
    answer = app.sweep(event, Context())
elif scenario == "cached_get_secret_value":
    from chalicelib.adapters import secrets
    client = secrets.sdk_client({"AWS_REGION": "us-east-1"})
    answer = len(client.get_secret_value(SecretId=payload["arn"])["SecretString"])
elif scenario == "extension_get":
    import http.client, os
    conn = http.client.HTTPConnection("127.0.0.1", int(payload["port"]), timeout=2)
    conn.request("GET", "/secretsmanager/get?secretId=" + payload["arn"],
                 headers={"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")})
    answer = len(json.loads(conn.getresponse().read())["SecretString"])
else:
    raise SystemExit("unknown scenario " + scenario)
sys.stdout.write(MARK + json.dumps({"answer": answer, "modules": sorted(sys.modules)}) + "\n")
sys.stdout.flush()
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def unzip_read_only(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as z:
        z.extractall(into)
    make_read_only(into)
    return into


def make_read_only(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        path.chmod(0o555 if path.is_dir() else 0o444)


def runtime_folder(into: Path) -> Path:
    """What the Lambda Python runtime provides and the package leaves out, precompiled."""
    into.mkdir()
    for name in ("boto3", "botocore", "s3transfer", "dateutil", "six"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{name} is not installed: it stands in for the Lambda runtime's")
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, into / origin.name)
    compileall.compile_dir(
        into, quiet=2, workers=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    make_read_only(into)
    return into


def hello_package(work: Path) -> Path:
    project = work / "hello"
    (project / ".chalice").mkdir(parents=True)
    (project / "app.py").write_text(HELLO_APP)
    (project / "requirements.txt").write_text("")
    config = {"version": "2.0", "app_name": "hello", "stages": {"dev": {"api_gateway_stage": "api"}}}
    (project / ".chalice" / "config.json").write_text(json.dumps(config))
    return build_package.build(project, work / "hello-package", "dev")


class Probe:
    def __init__(self, runtime: Path) -> None:
        self.runtime = runtime

    def run(self, task: Path, scenario: str, env: dict[str, str], **payload: Any) -> tuple[float, Any]:
        """Seconds from process start to the answer, and the answer (with sys.modules)."""
        command = [sys.executable, "-I", "-S", "-B", "-c", PROBE, str(task), str(self.runtime), scenario]
        command.append(json.dumps(payload))
        start = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith(ANSWER):
            line = process.stdout.readline()
        elapsed = time.perf_counter() - start
        _, err = process.communicate(timeout=60)
        if not line:
            raise RuntimeError(f"{scenario} gave no answer:\n{err[-3000:]}")
        return elapsed, json.loads(line.removeprefix(ANSWER))


@contextlib.contextmanager
def extension_stand_in(secrets: dict[str, str], token: str) -> Iterator[int]:
    """The extension's cache hit: a local HTTP server answering GetSecretValue's JSON to a
    caller holding the session token, as the extension does from memory."""

    class Handler(http.server.BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            arn = unquote(self.path.partition("secretId=")[2])
            if self.headers.get("X-Aws-Parameters-Secrets-Token") != token:
                self.send_error(401)
                return
            body = json.dumps({"ARN": arn, "SecretString": secrets[arn]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", aws.free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def socket_dir(url: str) -> tuple[str, dict[str, str]]:
    from psycopg import conninfo

    parts = conninfo.conninfo_to_dict(url)
    return str(parts.get("host")), {k: str(v) for k, v in parts.items() if v is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args()
    aws.use_fake_credentials()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cold-")))
        stack.callback(lambda: [p.chmod(0o755) for p in work.rglob("*") if p.is_dir()])
        log("building the package and a Chalice hello-world...")
        package = build_package.build(ROOT, work / "package", args.stage)
        hello = hello_package(work)
        task = unzip_read_only(package, work / "task")
        hello_task = unzip_read_only(hello, work / "hello-task")
        files_before = sorted(p.relative_to(work) for p in task.rglob("*"))
        probe = Probe(runtime_folder(work / "runtime"))

        log("starting PostgreSQL and a moto server...")
        url = stack.enter_context(fresh_database("benchcold"))
        endpoint = stack.enter_context(aws.moto_server())
        resources = aws.provision(endpoint)
        host, parts = socket_dir(url)
        manager = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
        db_secret = json.dumps(
            {"username": parts.get("user", "postgres"), "password": parts.get("password", ""),
             "host": host, "port": int(parts.get("port", 5432)), "dbname": parts["dbname"]}
        )  # fmt: skip
        db_arn = manager.create_secret(Name="bench/db", SecretString=db_secret)["ARN"]
        jwt_arn = manager.create_secret(Name="bench/jwt", SecretString=JWT_SECRET)["ARN"]

        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": SESSION_TOKEN, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint, "STAGE": args.stage, "DB_PREPARE_THRESHOLD": "off",
            "LEDGER_TABLE": resources.ledger_table,
            "POWERTOOLS_METRICS_NAMESPACE": "EventScheduler",
        }  # fmt: skip
        authorizer_env = {k: v for k, v in base.items() if k != "AWS_ENDPOINT_URL"} | {
            "JWT_SECRET": JWT_SECRET
        }
        authorizer_arn_env = base | {"JWT_SECRET_ARN": jwt_arn}
        api_env = base | {"DB_SECRET_ARN": db_arn, "DB_HOST": host}
        pipeline_env = base | {
            "DATABASE_URL": url, "QUEUE_URL": resources.queue_url, "DLQ_URL": resources.dlq_url,
            "WEBHOOK_URL": "http://127.0.0.1:9/hook", "WEBHOOK_SECRET": "whsec_" + "a" * 32,
        }  # fmt: skip
        now = datetime.now(UTC)
        token = jwt.encode(
            {"sub": "cold-bench", "roles": ["admin"], "exp": int((now + timedelta(hours=1)).timestamp())},
            JWT_SECRET,
            algorithm="HS256",
        )
        _, created = probe.run(task, "create_user", api_env)
        user_id = created["answer"]
        uuid.UUID(user_id)

        # What each pipeline function's first call imports of ours (each pulls its libraries):
        # their "imports" figures import exactly these after app, with no I/O and no client.
        _, imported = probe.run(task, "import", base)
        loaded = {
            name: sorted(m for m in probe.run(task, name, pipeline_env, **payload)[1]["modules"]
                         if m.startswith("chalicelib.") and m not in imported["modules"])
            for name, payload in (("worker", {}), ("sweeper", {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ")}))
        }  # fmt: skip
        samples: dict[str, list[float]] = {}
        modules: dict[str, list[str]] = {}
        with extension_stand_in({db_arn: db_secret, jwt_arn: JWT_SECRET}, SESSION_TOKEN) as port:
            scenarios: list[tuple[str, Path, str, dict[str, str], dict[str, Any]]] = [
                ("hello_import", hello_task, "import", base, {}),
                ("hello_answer", hello_task, "hello", base, {}),
                ("app_import", task, "import", base, {}),
                ("authorizer", task, "authorizer", authorizer_env, {"token": token}),
                ("authorizer_secret_arn", task, "authorizer", authorizer_arn_env, {"token": token}),
                (
                    "authorizer_secret_arn_extension",
                    task,
                    "authorizer",
                    authorizer_arn_env | {EXTENSION_PORT: str(port)},
                    {"token": token},
                ),
                ("api_get_user", task, "get_user", api_env, {"user_id": user_id}),
                (
                    "api_get_user_extension",
                    task,
                    "get_user",
                    api_env | {EXTENSION_PORT: str(port)},
                    {"user_id": user_id},
                ),
                ("worker_imports", task, "imports", pipeline_env, {"modules": loaded["worker"]}),
                ("sweeper_imports", task, "imports", pipeline_env, {"modules": loaded["sweeper"]}),
                ("worker", task, "worker", pipeline_env, {}),
                ("sweeper", task, "sweeper", pipeline_env, {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ")}),
                ("cached_get_secret_value", task, "cached_get_secret_value", base, {"arn": db_arn}),
                ("extension_get", task, "extension_get", base, {"arn": db_arn, "port": port}),
            ]
            for round_number in range(args.samples):  # interleaved: drift hits every scenario alike
                for name, folder, scenario, env, payload in scenarios:
                    elapsed, result = probe.run(folder, scenario, env, **payload)
                    samples.setdefault(name, []).append(elapsed)
                    modules[name] = result["modules"]
                log(f"round {round_number + 1}/{args.samples} done")

        files_after = sorted(p.relative_to(work) for p in task.rglob("*"))
        assert files_before == files_after, "something wrote into the code folder"
        figures = {name: median(values) for name, values in samples.items()}
        hello_answer, hello_import = figures["hello_answer"], figures["hello_import"]
        extra = ["authorizer_secret_arn", "authorizer_secret_arn_extension", "worker", "sweeper"]
        ratios = {name: round(figures[name] / hello_answer, 2) for name in [*TARGETS, *extra]}
        ratios["app_import"] = round(figures["app_import"] / hello_import, 2)
        zip_mb = round(package.stat().st_size / 1e6, 2)
        with zipfile.ZipFile(package) as z:
            unzipped_mb = round(sum(i.file_size for i in z.infolist()) / 1e6, 2)
        heavy = (
            "psycopg",
            "boto3",
            "botocore",
            "pynamodb",
            "requests",
            "aws_lambda_powertools",
            "jwt",
            "cryptography",
            "s3transfer",
        )
        heavy_loaded = {
            name: sorted({m.split(".")[0] for m in modules[name]} & set(heavy))
            for name in (
                "app_import",
                "authorizer",
                "authorizer_secret_arn",
                "authorizer_secret_arn_extension",
                "api_get_user",
                "api_get_user_extension",
                "worker",
                "sweeper",
            )
        }
        for name, value in figures.items():
            log(f"{name:26} {value * 1000:8.1f} ms")
        result = {
            "samples": args.samples,
            "stage": args.stage,
            "python": sys.version.split()[0],
            "seconds": figures,
            "ratiosToHelloWorld": ratios,
            "targets": {**TARGETS, "zipMB": ZIP_TARGET_MB},
            "met": {name: ratios[name] <= limit for name, limit in TARGETS.items()}
            | {"zipMB": zip_mb <= ZIP_TARGET_MB},
            "zipMB": zip_mb,
            "unzippedMB": unzipped_mb,
            "secretsExtensionSavesSeconds": round(
                figures["cached_get_secret_value"] - figures["extension_get"], 4
            ),
            "heavyModulesLoaded": heavy_loaded,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
