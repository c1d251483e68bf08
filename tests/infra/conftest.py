"""Built once per session into temporary directories: the CDK app, through `make synth`, for dev
and prod (the two ends: staging differs from prod only in size and Multi-AZ); the Lambda
package, through `make package`, for dev; every cloud stage's packaged template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts import build_package

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
sys.path.insert(0, str(ROOT / "infra"))  # `stacks`, for the constants the templates must match


class Template:
    """A synthesized CloudFormation template with the look-ups the tests need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw: dict[str, Any] = json.loads(path.read_text())
        self.resources: dict[str, dict[str, Any]] = self.raw["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def one(self, kind: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
        found = {n: r for n, r in self.of_type(kind).items() if n.startswith(prefix)}
        assert len(found) == 1, f"expected one {kind} named {prefix}*, found {sorted(found)}"
        return next(iter(found.items()))

    def props(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resources[logical_id]["Properties"]
        return properties


def make(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        ["make", "-s", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"make {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="session")
def cloud_assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("cdk")
    # One after the other: both reuse the deployment package Chalice caches in .chalice/.
    assemblies = {}
    for stage in STAGES:
        make("synth", f"STAGE={stage}", f"CDK_OUT={out / stage}")
        assemblies[stage] = out / stage
    return assemblies


@pytest.fixture(scope="session")
def templates(cloud_assemblies: dict[str, Path]) -> dict[str, Template]:
    return {stage: Template(path / f"{stage}.template.json") for stage, path in cloud_assemblies.items()}


@pytest.fixture(params=STAGES)
def template(request: pytest.FixtureRequest, templates: dict[str, Template]) -> Template:
    return templates[request.param]


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make package STAGE=dev`'s output folder (sam.json, deployment.zip)."""
    out = tmp_path_factory.mktemp("package") / "dev"
    make("package", "STAGE=dev", f"PACKAGE_OUT={out}")
    return out


@pytest.fixture(scope="session")
def packaged_templates(package: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every cloud stage's sam.json: dev's from `make package`, the others' from the same code
    without rebuilding the zip (a template differs by stage, the zip does not)."""
    from stacks.stages import CLOUD_STAGES  # infra/ is on sys.path once this module has run

    templates = {"dev": package / "sam.json"}
    out = tmp_path_factory.mktemp("templates")
    for stage in CLOUD_STAGES:
        if stage not in templates:
            templates[stage] = build_package.write_template(ROOT, out / stage, stage)
    return templates
