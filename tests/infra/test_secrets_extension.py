"""The secrets extension's layer ARN: known per region and architecture, given by context, or
refused at synth for a region with no known one. In-process stacks (no synth of the app)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from stacks import secrets_extension
from stacks.secrets_extension import CONTEXT_KEY, SecretsExtension, UnknownRegion

pytestmark = pytest.mark.infra
GIVEN = "arn:aws:lambda:xx-nowhere-1:123456789012:layer:AWS-Parameters-and-Secrets-Lambda-Extension:99"


def extension(
    region: str | None = None, environ: dict[str, str] | None = None, **context: Any
) -> SecretsExtension:
    app = cdk.App(context=context)
    stack = cdk.Stack(app, "S", env=cdk.Environment(region=region) if region else None)
    return SecretsExtension(stack, "SecretsExtension", environ=environ or {})


def test_a_known_region_gets_awss_layer_for_the_functions_architecture() -> None:
    x86 = extension("eu-west-1").layer_arn("x86_64")
    arm = extension("eu-west-1").layer_arn("arm64")
    assert x86.startswith("arn:aws:lambda:eu-west-1:")
    assert ":layer:AWS-Parameters-and-Secrets-Lambda-Extension:" in x86
    assert ":layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:" in arm
    assert x86.split(":")[4] == arm.split(":")[4]  # one publishing account per region


def test_other_partitions_are_known_with_their_own_arn_prefix() -> None:
    assert extension("cn-north-1").layer_arn("x86_64").startswith("arn:aws-cn:lambda:cn-north-1:")


def test_a_region_with_no_known_layer_fails_the_synth_and_says_what_to_pass() -> None:
    with pytest.raises(UnknownRegion, match=f"xx-nowhere-1: pass -c {CONTEXT_KEY}="):
        extension("xx-nowhere-1").layer_arn("x86_64")


def test_a_region_agnostic_stack_is_checked_against_the_region_the_cli_deploys_to() -> None:
    with pytest.raises(UnknownRegion, match="xx-nowhere-1"):
        extension(
            environ={"CDK_DEFAULT_REGION": "xx-nowhere-1", "AWS_DEFAULT_REGION": "us-east-1"}
        ).layer_arn("x86_64")


def test_a_region_agnostic_stack_maps_every_known_region_and_refuses_others_at_deploy() -> None:
    ext = extension(environ={"AWS_DEFAULT_REGION": "us-east-1"})
    arn = ext.layer_arn("x86_64")
    stack = cdk.Stack.of(ext)
    cdk.CfnWaitConditionHandle(stack, "Something")  # a template needs a resource
    cdk.CfnOutput(stack, "Layer", value=arn)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    [(mapping_id, mapping)] = template["Mappings"].items()
    assert stack.resolve(arn) == {"Fn::FindInMap": [mapping_id, {"Ref": "AWS::Region"}, "arn"]}
    assert {region: row["arn"] for region, row in mapping.items()} == secrets_extension.known_arns("x86_64")
    [rule] = [r for name, r in template["Rules"].items() if name.startswith("SecretsExtension")]
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [sorted(mapping), {"Ref": "AWS::Region"}]}
    assert CONTEXT_KEY in assertion["AssertDescription"]


def test_the_context_names_the_layer_for_any_region() -> None:
    assert extension("xx-nowhere-1", **{CONTEXT_KEY: GIVEN}).layer_arn("x86_64") == GIVEN


def test_a_context_value_that_is_no_layer_arn_is_refused() -> None:
    with pytest.raises(SystemExit, match="not a Lambda layer version ARN"):
        extension("eu-west-1", **{CONTEXT_KEY: "AWS-Parameters-and-Secrets-Lambda-Extension"})


def test_an_architecture_the_extension_is_not_published_for_is_refused() -> None:
    with pytest.raises(ValueError, match="not 'riscv64'"):
        extension("eu-west-1").layer_arn("riscv64")
