"""`make package` and cfn-lint: the artefacts a deploy uses, built and checked offline."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, make

pytestmark = pytest.mark.infra
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def test_cfn_lint_reports_nothing_on_the_synthesized_templates(cloud_assemblies: dict[str, Path]) -> None:
    templates = [str(path / f"{stage}.template.json") for stage, path in cloud_assemblies.items()]
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), *templates], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "dev"
    make("package", "STAGE=dev", f"PACKAGE_OUT={out}")
    return out


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
