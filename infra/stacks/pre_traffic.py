"""The PreTraffic hook function (infra/hooks/pre_traffic.py), deployed by the CDK on its own.

CodeDeploy's role for Lambda (AWSCodeDeployRoleForLambda, which SAM gives it) may invoke only
functions named `CodeDeployHook_*`; the hook may invoke only the versions it probes, read the
JWT signing secret and report its result.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.stages import ROOT

HOOK_DIR = ROOT / "infra" / "hooks"


class PreTrafficHook(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, environment: dict[str, str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=f"CodeDeployHook_event-scheduler-{stage}-pre-traffic",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="pre_traffic.handler",
            code=lambda_.Code.from_asset(str(HOOK_DIR), exclude=["__pycache__"]),
            timeout=Duration.minutes(2),  # a cold API handler plus a proxy connection: seconds
            memory_size=256,
            environment=environment,
            log_group=logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_WEEK),
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["codedeploy:GetDeployment", "codedeploy:PutLifecycleEventHookExecutionStatus"],
                resources=[
                    Stack.of(self).format_arn(
                        service="codedeploy",
                        resource="deploymentgroup",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

    def may_invoke(self, function_names: list[str]) -> None:
        stack = Stack.of(self)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[
                    stack.format_arn(
                        service="lambda",
                        resource="function",
                        resource_name=f"{name}:*",  # its versions
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for name in function_names
                ],
            )
        )

    def may_read(self, secret_arn: str) -> None:
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret_arn])
        )
