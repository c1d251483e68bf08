"""The GitHub workflows: valid against the published schema, and saying what the seed asks."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import yaml

from tests.infra.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def test_every_workflow_validates_against_the_github_workflow_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) >= 2
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *files,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_lint_types_coverage_package_synth_and_cfn_lint_on_push_and_pull_request() -> None:
    ci = load("ci.yml")
    assert set(ci[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
    commands = " ".join(step.get("run", "") for job in ci["jobs"].values() for step in job["steps"])
    for target in (
        "make lint",
        "make typecheck",
        "make coverage",
        "make package",
        "make cfn-lint",
        "make scan",
    ):
        assert target in commands
    makefile = (ROOT / "Makefile").read_text()
    assert "--cov-fail-under=80" in makefile


def test_every_action_is_pinned_by_commit_sha_with_its_tag() -> None:
    pins = 0
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            match = re.search(r"uses: ([\w./-]+)@(\S+)(?: # (v\S+))?", line)
            if not match or match[1].startswith("./"):
                continue
            pins += 1
            assert re.fullmatch(r"[0-9a-f]{40}", match[2]), f"{path.name}: {line.strip()}"
            assert match[3], f"{path.name}: the tag goes in a comment: {line.strip()}"
    assert pins >= 5


def test_deploy_uses_oidc_promotes_through_stages_and_smoke_tests() -> None:
    deploy = load("deploy.yml")
    stage = load("deploy-stage.yml")
    assert "id-token" not in deploy["permissions"], "the OIDC token only for the jobs that deploy"
    assert all(job["permissions"]["id-token"] == "write" for job in deploy["jobs"].values())
    assert deploy[True]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in deploy[True]
    jobs = deploy["jobs"]
    assert jobs["dev"]["if"] == "github.event_name == 'workflow_dispatch'"
    assert jobs["staging"]["if"] == "github.event_name == 'push'"
    assert jobs["prod"]["needs"] == "staging"
    steps = stage["jobs"]["deploy"]["steps"]
    credentials = next(
        s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
    )
    assert "role-to-assume" in credentials["with"]
    text = (WORKFLOWS / "deploy-stage.yml").read_text() + (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text
    assert "secrets.AWS" not in text
    assert stage["jobs"]["deploy"]["environment"]["name"] == "${{ inputs.stage }}"  # prod: required reviewers
    assert "health" in steps[-1]["run"]
