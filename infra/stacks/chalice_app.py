"""The Chalice app as CloudFormation, completed with what `chalice package` cannot know.

`chalice.cdk.Chalice` runs `chalice package` for the stage and includes its SAM template;
this module then, per function: puts the database-reaching ones in the private subnets (the
authorizer stays outside the VPC), gives each only the environment and the grants it needs,
points the worker's SQS event at the real queue with partial batch responses and a maximum
concurrency, and turns on canary deployments (an alias every function is invoked through,
shifted by CodeDeploy and rolled back by alarms). It also sets the API stage's throttling,
JSON access logs and tracing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Aws, CfnCondition, Fn, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sam as sam
from chalice.cdk import Chalice
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from scripts import build_package
from stacks.stages import ROOT

ALIAS = "live"
THROTTLE_BURST = 1000
THROTTLE_RATE = 500
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "latency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "principal": "$context.authorizer.principalId",
        "error": "$context.error.message",
    },
    separators=(",", ":"),
)


@dataclass(frozen=True)
class Function:
    """One function Chalice emitted: its SAM resource and its role."""

    logical_id: str
    resource: sam.CfnFunction
    role: iam.IRole


def authorizer_ids() -> list[str]:
    """The logical IDs of the app's custom authorizers (Chalice names them after the function)."""
    from app import app  # the Chalice app itself; importing it builds nothing

    return [to_cfn_resource_name(auth.name) for auth in app.builtin_auth_handlers]


class _PatchedChalice(Chalice):
    """Packages with scripts/build_package.py (what `make package` builds: lean, precompiled,
    reproducible, its template mended where Chalice 1.34 gets it wrong) instead of a bare
    `chalice package`."""

    def _package_app(self) -> None:
        build_package.build(
            Path(self.source_dir),
            Path(self._sam_package_dir),
            self.stage_name,
            chalice_config=self.stage_config,
        )


# What scripts/chalice_stage.py writes into a stage for `chalice deploy` (its own roles and
# subnets) must not leak into the CDK's package: these override every layer of the config.
CDK_OVERRIDES: dict[str, Any] = {"manage_iam_role": True, "subnet_ids": [], "security_group_ids": []}


class ChaliceApp(Construct):
    """Wraps chalice.cdk.Chalice; its scope must be the stack named after the Chalice stage."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.chalice = _PatchedChalice(
            scope, "Chalice", source_dir=str(ROOT), stage_config=dict(CDK_OVERRIDES)
        )
        self.api = self._function("APIHandler", "ApiHandlerRole")
        self.sweep = self._function("Sweep", "SweepRole")
        self.deliver = self._function("Deliver", "DeliverRole")
        self.migrate = self._function("Migrate", "MigrateRole")
        self.authorizers = [self._function(name, f"{name}Role") for name in authorizer_ids()]
        self.rest_api: sam.CfnApi = self.chalice.get_resource("RestAPI")

    def _function(self, logical_id: str, role_id: str) -> Function:
        resource: sam.CfnFunction = self.chalice.get_resource(logical_id)
        return Function(logical_id, resource, self.chalice.get_role(role_id))

    @property
    def in_vpc(self) -> list[Function]:
        return [self.api, self.sweep, self.deliver, self.migrate]

    @property
    def canaried(self) -> list[Function]:
        """Everything API Gateway, the schedule or SQS invokes; the migrator runs once per deploy."""
        return [self.api, self.sweep, self.deliver, *self.authorizers]

    def place_in_vpc(self, subnets: list[ec2.ISubnet], security_group: ec2.ISecurityGroup) -> None:
        for function in self.in_vpc:
            function.resource.add_property_override(
                "VpcConfig",
                {
                    "SubnetIds": [subnet.subnet_id for subnet in subnets],
                    "SecurityGroupIds": [security_group.security_group_id],
                },
            )

    def set_environment(self, function: Function, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            function.resource.add_property_override(f"Environment.Variables.{name}", value)

    def add_layer(self, function: Function, layer_arn: str, condition: CfnCondition | None = None) -> None:
        """The function's one layer; with a condition, only where it holds."""
        layers: Any = [layer_arn]
        if condition is not None:
            layers = Fn.condition_if(condition.logical_id, layers, Aws.NO_VALUE)
        function.resource.add_property_override("Layers", layers)

    def grant(self, function: Function, *statements: iam.PolicyStatement) -> None:
        """One policy per function; the function waits for it, so it never starts unauthorised
        (an SQS event source checks its role's permissions when it is created)."""
        policy = iam.Policy(
            self, f"{function.logical_id}Grants", roles=[function.role], statements=list(statements)
        )
        function.resource.node.add_dependency(policy)

    def consume_queue(self, queue_arn: str, max_concurrency: int) -> None:
        event = f"Events.{self.deliver.logical_id}SqsEventSource.Properties"
        self.deliver.resource.add_property_override(f"{event}.Queue", queue_arn)
        self.deliver.resource.add_property_override(
            f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"]
        )
        self.deliver.resource.add_property_override(
            f"{event}.ScalingConfig", {"MaximumConcurrency": max_concurrency}
        )

    def enable_canary(
        self, deployment_type: str, alarms: dict[str, list[str]], pre_traffic: str | None, probed: list[str]
    ) -> None:
        """AutoPublishAlias + DeploymentPreference on every invoked function (the PreTraffic hook
        on those in `probed`), and every caller (the API's integrations, the authorizer, their
        invoke permissions) moved to the alias."""
        for function in self.canaried:
            function.resource.add_property_override("AutoPublishAlias", ALIAS)
            preference: dict[str, Any] = {
                "Type": deployment_type,
                "Alarms": alarms.get(function.logical_id, []),
            }
            if pre_traffic is not None and function.logical_id in probed:
                preference["Hooks"] = {"PreTraffic": pre_traffic}
            function.resource.add_property_override("DeploymentPreference", preference)
        names = [f.logical_id for f in [self.api, *self.authorizers]]
        self.rest_api.add_property_override("DefinitionBody", _to_aliases(self._definition_body(), names))
        for name in names:
            permission = self.chalice.get_resource(f"{name}InvokePermission")
            permission.add_property_override("FunctionName", {"Ref": f"{name}.Alias"})
            Validations.of(permission).acknowledge(
                Acknowledgment(
                    id="CloudFormation-Validate::F1020",
                    reason="`Ref: X.Alias` is SAM's, resolved by its transform",
                )
            )

    def configure_stage(self, stage: str, api_stage: str, access_logs: logs.ILogGroup) -> None:
        self.rest_api.add_property_override("Name", f"event-scheduler-{stage}")
        self.rest_api.add_property_override("TracingEnabled", True)
        self.rest_api.add_property_override("SecurityPolicy", "TLS_1_2")  # TLS 1.0/1.1 refused
        self.rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingBurstLimit": THROTTLE_BURST,
                    "ThrottlingRateLimit": THROTTLE_RATE,
                    "MetricsEnabled": True,
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,  # bodies hold names and birth dates: not in logs
                }
            ],
        )
        self.rest_api.add_property_override(
            "AccessLogSetting", {"DestinationArn": access_logs.log_group_arn, "Format": ACCESS_LOG_FORMAT}
        )
        # API Gateway creates its execution log group when it first logs, never expiring; made
        # here with the stack (before any request), it keeps 7 days like every other.
        logs.CfnLogGroup(
            self,
            "ApiExecutionLogs",
            log_group_name=Fn.sub(f"API-Gateway-Execution-Logs_${{RestAPI}}/{api_stage}"),
            retention_in_days=7,
        )

    def _definition_body(self) -> dict[str, Any]:
        # The construct keeps the package it made; its template is the only full view of the
        # generated API definition (CfnInclude exposes properties, not a copy to rewrite).
        package_dir = Path(self.chalice._sam_package_dir)
        template = json.loads((package_dir / "sam.json").read_text())
        return dict(template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"])


def _to_aliases(body: dict[str, Any], logical_ids: list[str]) -> dict[str, Any]:
    """Integration and authorizer URIs name the alias: the function's ARN qualified by it
    (SAM resolves `Ref: X.Alias` but not `${X.Alias}` inside an API definition)."""
    text = json.dumps(body)
    for name in logical_ids:
        text = text.replace(f"${{{name}.Arn}}/", f"${{{name}.Arn}}:{ALIAS}/")
    result: dict[str, Any] = json.loads(text)
    return result


def api_gateway_logging_role(scope: Construct) -> None:
    """API Gateway writes access and execution logs only once the account names a role for it
    (one setting per account and region; every stage's stack sets the same value)."""
    role = iam.Role(
        scope,
        "ApiGatewayLogsRole",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            )
        ],
    )
    apigateway.CfnAccount(scope, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
