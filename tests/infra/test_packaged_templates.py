"""Every cloud stage's packaged template (`make package`'s sam.json, what a team deploys with
`aws cloudformation package` and `deploy`) as CloudFormation will take it: the SAM transform
turns it into plain CloudFormation, and cfn-lint finds nothing in either."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from stacks.stages import CLOUD_STAGES

from scripts import build_package
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra
ARTIFACTS = "s3://artifacts/event-scheduler"


class NoManagedPolicies:
    """The translator's managed-policy loader: the app names none, so it is never asked."""

    def load(self) -> dict[str, str]:
        raise AssertionError("the SAM transform asked for AWS managed policies")


def as_uploaded(template: dict[str, Any]) -> dict[str, Any]:
    """What `aws cloudformation package` hands on: local code paths become S3 locations."""
    uploaded = copy.deepcopy(template)
    for resource in uploaded["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"{ARTIFACTS}/{Path(props[key]).name}"
    return uploaded


@pytest.fixture(scope="module")
def transformed(
    packaged_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each stage's template after the SAM transform, as CloudFormation runs it on deploy."""
    out = tmp_path_factory.mktemp("transformed")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator's partition; no call is made
        for stage, path in packaged_templates.items():
            plain = transform(as_uploaded(json.loads(path.read_text())), {}, NoManagedPolicies())
            (out / f"{stage}.json").write_text(json.dumps(plain, indent=2))
    return {stage: out / f"{stage}.json" for stage in packaged_templates}


def test_every_cloud_stage_is_packaged_and_local_is_refused(tmp_path: Path) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert set(config["stages"]) - set(CLOUD_STAGES) == {build_package.LOCAL_STAGE}
    # A `local` stage in the cloud would sign tokens with the local secret everybody has.
    with pytest.raises(SystemExit, match="chalice local"):
        build_package.build(ROOT, tmp_path / "out", build_package.LOCAL_STAGE)
    assert not (tmp_path / "out").exists()


def test_the_template_alone_is_what_make_package_writes(package: Path, tmp_path: Path) -> None:
    # What lets the other stages skip rebuilding the zip: one code path writes both.
    alone = build_package.write_template(ROOT, tmp_path, "dev")
    assert alone.read_bytes() == (package / "sam.json").read_bytes()


def test_the_api_handlers_log_group_names_the_function(packaged_templates: dict[str, Path]) -> None:
    for stage, path in packaged_templates.items():
        resources = json.loads(path.read_text())["Resources"]
        groups = {n: r for n, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
        assert groups, stage
        for name, group in groups.items():
            [function] = [n for n in resources if f"/aws/lambda/${{{n}}}" in json.dumps(group)]
            assert resources[function]["Type"] == "AWS::Serverless::Function", (stage, name)
        assert groups["ApiHandlerLogGroup"]["Properties"]["LogGroupName"] == {
            "Fn::Sub": "/aws/lambda/${APIHandler}"
        }


def test_the_sam_transform_leaves_plain_cloudformation(
    packaged_templates: dict[str, Path], transformed: dict[str, Path]
) -> None:
    assert set(transformed) == set(CLOUD_STAGES)
    for stage, path in transformed.items():
        plain = json.loads(path.read_text())
        assert "Transform" not in plain
        kinds = {r["Type"] for r in plain["Resources"].values()}
        assert not [k for k in kinds if k.startswith("AWS::Serverless::")], stage
        sam = json.loads(packaged_templates[stage].read_text())["Resources"]
        functions = {n for n, r in sam.items() if r["Type"] == "AWS::Serverless::Function"}
        assert functions >= {"APIHandler", "Sweep", "Deliver", "Migrate", "JwtAuth"}
        for name in functions:
            assert plain["Resources"][name]["Type"] == "AWS::Lambda::Function", (stage, name)


def test_cfn_lint_finds_nothing_in_any_stages_template_before_or_after_the_transform(
    packaged_templates: dict[str, Path], transformed: dict[str, Path]
) -> None:
    # Warnings fail too (cfn-lint's exit code is a bitmask: 2 errors, 4 warnings, 8 notes).
    files = [str(p) for p in (*packaged_templates.values(), *transformed.values())]
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), *files], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mend_template_points_chalices_log_group_at_the_renamed_api_handler() -> None:
    def chalice_134() -> dict[str, Any]:
        return {
            "Resources": {
                "ApiHandlerLogGroup": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${ApiHandler}"}},
                },
                "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {}},
            }
        }

    template = chalice_134()
    build_package.mend_template(template)
    group = template["Resources"]["ApiHandlerLogGroup"]["Properties"]
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${APIHandler}"}
    # A Chalice that names it right is left as it is.
    fixed = chalice_134()
    fixed["Resources"]["ApiHandler"] = fixed["Resources"].pop("APIHandler")
    unchanged = copy.deepcopy(fixed)
    build_package.mend_template(fixed)
    assert fixed == unchanged
