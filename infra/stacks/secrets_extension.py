"""The AWS Parameters and Secrets Lambda Extension's layer, for the functions that read secrets.

With its layer added and `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` set, a function reads its
secrets from the extension over localhost (chalicelib/adapters/secrets.py) and never imports an
AWS SDK on its cold path (scripts/bench_cold.py: ~0.14 s less for the API's first answer).

AWS publishes the layer in each region, from an AWS account of that region, one per
architecture: `arn:<partition>:lambda:<region>:<account>:layer:AWS-Parameters-and-Secrets-
Lambda-Extension[-Arm64]:<n>`. The ARNs are the CDK's own table (aws_cdk.region_info, what
`lambda.ParamsAndSecretsLayerVersion` deploys), for extension VERSION. The template stays
region-agnostic: a mapping of every known region, and a rule that refuses any other before
anything is created. Where the region is known at synth (the stack's, or the one the CDK CLI
deploys to: CDK_DEFAULT_REGION, else AWS_REGION / AWS_DEFAULT_REGION), a region with no known
ARN fails the synth. `-c secrets_extension_layer_arn=arn:...` gives the ARN instead (a newer
version, another region) and skips both.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from aws_cdk import Aws, CfnMapping, CfnRule, CfnRuleAssertion, Fn, Stack, Token, region_info
from constructs import Construct

from chalicelib.adapters.secrets import EXTENSION_PORT

VERSION = "1.0.103"
CONTEXT_KEY = "secrets_extension_layer_arn"
PORT = "2773"
ENVIRONMENT = {EXTENSION_PORT: PORT}
"""What a function with the layer is given. The cache's TTL stays the extension's (300 s):
each container reads each secret once and its extension caches for that container alone."""
ARCHITECTURES = ("x86_64", "arm64")
LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")


class UnknownRegion(SystemExit):
    """No layer ARN is known for the region: name one with -c secrets_extension_layer_arn."""


def known_arns(architecture: str) -> dict[str, str]:
    """Region → the extension's layer ARN, for one architecture (x86_64 or arm64)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"the extension is published for {', '.join(ARCHITECTURES)}, not {architecture!r}")
    fact = region_info.FactName.params_and_secrets_lambda_layer(VERSION, architecture)
    return dict(region_info.RegionInfo.region_map(fact))


def deploy_region(stack_region: str, environ: Mapping[str, str]) -> str | None:
    """The region the stack will be deployed to, if synth can know it."""
    if not Token.is_unresolved(stack_region):
        return stack_region
    for name in ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(name):
            return environ[name]
    return None


class SecretsExtension(Construct):
    """Hands out the layer's ARN per architecture: the context's, or the known one for the region."""

    def __init__(
        self, scope: Construct, construct_id: str, *, environ: Mapping[str, str] = os.environ
    ) -> None:
        super().__init__(scope, construct_id)
        self._stack = Stack.of(self)
        self._environ = environ
        self._override: str | None = self.node.try_get_context(CONTEXT_KEY) or None
        if self._override is not None and not LAYER_ARN.match(self._override):
            raise SystemExit(f"{CONTEXT_KEY}={self._override!r} is not a Lambda layer version ARN")
        self._arns: dict[str, str] = {}

    def layer_arn(self, architecture: str) -> str:
        if self._override is not None:
            return self._override
        if architecture not in self._arns:
            self._arns[architecture] = self._lookup(architecture)
        return self._arns[architecture]

    def _lookup(self, architecture: str) -> str:
        arns = known_arns(architecture)
        region = deploy_region(self._stack.region, self._environ)
        if region is not None and region not in arns:
            raise UnknownRegion(
                f"no AWS Parameters and Secrets Lambda Extension layer ({architecture}) is known for"
                f" {region}: pass -c {CONTEXT_KEY}=arn:aws:lambda:{region}:<account>:layer:<name>:<n>"
            )
        if not Token.is_unresolved(self._stack.region):
            return arns[self._stack.region]
        mapping = CfnMapping(
            self,
            f"Layer{architecture.replace('_', '')}",
            mapping={r: {"arn": a} for r, a in sorted(arns.items())},
        )
        CfnRule(
            self,
            f"KnownRegion{architecture.replace('_', '')}",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(sorted(arns), Aws.REGION),
                    assert_description=(
                        "No AWS Parameters and Secrets Lambda Extension layer is known for this region:"
                        f" synthesize with -c {CONTEXT_KEY}=<its layer ARN>"
                    ),
                )
            ],
        )
        return mapping.find_in_map(Aws.REGION, "arn")
