"""`make package` and cfn-lint: the artefacts a deploy uses, built and checked offline."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from scripts import build_package
from tests import shipped
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def test_cfn_lint_reports_nothing_on_the_synthesized_templates(cloud_assemblies: dict[str, Path]) -> None:
    templates = [str(path / f"{stage}.template.json") for stage, path in cloud_assemblies.items()]
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), *templates], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_package_writes_the_sam_template_and_the_deployment_zip(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text())
    functions = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions >= {"APIHandler", "Sweep", "Deliver", "Migrate"}
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = set(archive.namelist())
        unzipped = sum(info.file_size for info in archive.infolist())
    assert {
        "app.py",
        "chalicelib/sql/migrations/0001_initial.up.sql",
        "chalicelib/sql/queries/users.sql",
    } <= names
    # Wheels for the Lambda platform (Linux x86_64, CPython 3.11), not this machine's.
    assert any(
        n.startswith("psycopg_binary/") and n.endswith("cpython-311-x86_64-linux-gnu.so") for n in names
    )
    assert any(n.startswith("tzdata/zoneinfo/Europe/") for n in names)
    assert unzipped < LAMBDA_UNZIPPED_LIMIT


def test_the_package_holds_the_consoles_page_and_every_file_it_serves(package: Path) -> None:
    """GET /console runs in the Lambda: its page and each asset (the vendored libraries too)
    must be in the zip, byte for byte."""
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = set(archive.namelist())
        files = {
            p: p.relative_to(ROOT).as_posix()
            for p in (ROOT / "chalicelib" / "console").rglob("*")
            if p.is_file()
        }
        assert set(files.values()) <= names
        for path, name in files.items():
            assert archive.read(name) == path.read_bytes(), name
    assert "chalicelib/console/assets/preact-11.2.0.mjs" in names


def test_two_builds_of_one_commit_give_byte_identical_zips(
    package: Path, cloud_assemblies: dict[str, Path]
) -> None:
    # The second build is the one `make synth` made for the CDK's asset: what deploys is what
    # `make package` builds, and the session builds the zip no more often than it must.
    [asset] = cloud_assemblies["dev"].glob("asset.*.zip")
    assert (package / "deployment.zip").read_bytes() == asset.read_bytes()


def test_the_zip_is_lean_sorted_and_precompiled_for_a_read_only_code_folder(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        pycs = {n: archive.read(n)[:16] for n in names if n.endswith(".pyc")}
        versions = [archive.read(f"{p}/version.py").decode() for p in build_package.VERSION_FROM_METADATA]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert package.joinpath("deployment.zip").stat().st_size <= 15 * 1000 * 1000
    # What the Lambda runtime provides is left out.
    assert not [n for n in names if n.split("/")[0] in {"boto3", "botocore", "s3transfer", "dateutil"}]
    assert not [n for n in names if n.startswith(build_package.UNUSED)]
    # No version.py reads its distribution's metadata (a scan of sys.path) at import.
    for version_py in versions:
        assert "\nfrom importlib" not in version_py
        assert '__version__ = "3.' in version_py
    # Every module has its .pyc beside it, hash-based and never checked against the source (the
    # zip's 1980 timestamps would make a timestamp-checked one stale); none comes from elsewhere.
    sources = {n for n in names if n.endswith(".py")}
    expected = {
        str(PurePosixPath(n).parent / "__pycache__" / f"{PurePosixPath(n).stem}.cpython-311.pyc")
        for n in sources
    }
    assert set(pycs) == {p.removeprefix("./") for p in expected}
    magic = importlib.util.MAGIC_NUMBER
    assert {header[:4] for header in pycs.values()} == {magic}
    assert {int.from_bytes(header[4:8], "little") for header in pycs.values()} == {0b01}  # unchecked hash


def test_the_zip_holds_no_twin_test_clock_or_local_stack_code(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = archive.namelist()
        ours = {
            n: archive.read(n).decode()
            for n in names
            if n == "app.py" or (n.startswith("chalicelib/") and n.endswith(".py"))
        }
    assert not [n for n in names if n.split("/")[0] in shipped.LOCAL_PACKAGES]
    assert "chalicelib/adapters/clock.py" in ours  # the sources ship beside their .pyc
    assert shipped.test_only_code(ours) == []


HELLO = """from chalice import Chalice

app = Chalice(app_name="hello")


@app.lambda_function()
def hello(event, context):
    return "hi"
"""
ACCOUNT_STAGE = {
    "manage_iam_role": False,
    "iam_role_arn": "arn:aws:iam::123456789012:role/one-accounts-role",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}
"""What scripts/chalice_stage.py writes into a stage for `chalice deploy`: one account's ARNs."""


def test_the_cdks_stage_config_overrides_what_chalice_stage_wrote_into_the_config(tmp_path: Path) -> None:
    from infra.stacks.chalice_app import CDK_OVERRIDES

    project = tmp_path / "hello"
    (project / ".chalice").mkdir(parents=True)
    (project / "app.py").write_text(HELLO)
    (project / "requirements.txt").write_text("")
    config = {"version": "2.0", "app_name": "hello", "stages": {"dev": ACCOUNT_STAGE}}
    (project / ".chalice" / "config.json").write_text(json.dumps(config))

    def function(**overrides: object) -> dict[str, object]:
        out = tmp_path / f"out-{len(overrides)}"
        build_package.build(project, out, "dev", **overrides)  # type: ignore[arg-type]
        template = json.loads((out / "sam.json").read_text())
        return dict(template["Resources"]["Hello"]["Properties"])

    as_written = function()
    assert as_written["Role"] == ACCOUNT_STAGE["iam_role_arn"]
    assert "VpcConfig" in as_written
    for_the_cdk = function(chalice_config=CDK_OVERRIDES)
    assert for_the_cdk["Role"] != ACCOUNT_STAGE["iam_role_arn"]  # the role the template makes
    assert "VpcConfig" not in for_the_cdk


def test_every_shipped_module_imports_from_the_zip_and_the_runtimes_sdk_alone(
    package: Path, tmp_path: Path
) -> None:
    # What the build leaves out (the SDK, Powertools' event handler) must be nothing the app
    # imports: each module of ours, loaded as Lambda would, with only the zip and the SDK.
    from scripts import bench_cold

    task = bench_cold.unzip_read_only(package / "deployment.zip", tmp_path / "task")
    runtime = bench_cold.runtime_folder(tmp_path / "runtime")
    modules = sorted(
        str(PurePosixPath(p.relative_to(task)).with_suffix("")).replace("/", ".").removesuffix(".__init__")
        for p in (task / "chalicelib").rglob("*.py")
    )
    env = {"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    _, loaded = bench_cold.Probe(runtime).run(task, "imports", env, modules=modules)
    assert loaded["answer"] == len(modules)
    assert {"aws_lambda_powertools.logging", "aws_lambda_powertools.metrics"} <= set(loaded["modules"])
