"""One stage of event-scheduler: the Chalice app and everything around it, in one stack.

The seed's separate concerns (database, API, scheduler, queue, monitoring) are separate
constructs here rather than separate stacks: Chalice emits the API, the schedule and the
worker as one template, and one stack per stage keeps every reference inside CloudFormation
(no exports to untangle). Stateful resources are retained in prod.

With `app=False` (`-c app=false`) the stack is the data plane alone, `event-scheduler-<stage>-data`:
network, database and proxy, queues, ledger, secrets, alarms, and one IAM role per function with
the same grants; scripts/chalice_stage.py writes its outputs into the stage's Chalice config, and
`chalice deploy --stage <stage>` deploys the app on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aws_cdk import CfnCondition, CfnOutput, CfnParameter, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks import dashboards, secrets_extension
from stacks.app_secrets import AppSecrets
from stacks.audit import AuditTrail
from stacks.chalice_app import ALIAS, ChaliceApp, Function, api_gateway_logging_role
from stacks.costs import Costs
from stacks.database import Database
from stacks.delivery_queue import DeliveryQueue
from stacks.ledger import Ledger
from stacks.monitoring import Monitoring
from stacks.network import Network
from stacks.pre_traffic import PreTrafficHook
from stacks.schema_migrations import SchemaMigrations, migrations_digest
from stacks.stages import CHALICE_CONFIG, ROOT, ChaliceConfig, StageConfig, endpoint_grants

READ_SECRET = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
SEND = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
LEDGER_READ = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
LEDGER_WRITE = [*LEDGER_READ, "dynamodb:PutItem", "dynamodb:UpdateItem"]


def allow(actions: list[str], *resources: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=actions, resources=list(resources))


# Chalice's function names (config.json) and the logical IDs `chalice package` gives them.
LOGICAL_IDS = {
    "api_handler": "APIHandler",
    "sweep": "Sweep",
    "deliver": "Deliver",
    "migrate": "Migrate",
    "jwt_auth": "JwtAuth",
}
IN_VPC = ("api_handler", "sweep", "deliver", "migrate")
PROBED = ("APIHandler", "Deliver", "JwtAuth")
"""What the PreTraffic hook checks (the sweeper's probe would be a sweep: real work)."""
WITH_SECRETS_EXTENSION = ("api_handler", "sweep", "deliver", "jwt_auth")
"""The functions whose cold start reads secrets (stacks/secrets_extension.py); the authorizer's
only in HS256 mode. Not the migrator: it runs once per deploy, where a cold start costs nothing."""


@dataclass
class Wiring:
    """Per Chalice function: its environment and its grants, the same on both deploy paths."""

    environment: dict[str, dict[str, str]]
    grants: dict[str, list[iam.PolicyStatement]]
    layers: dict[str, str] = field(default_factory=dict)
    """One layer ARN per function that has one (the secrets extension's)."""
    layer_conditions: dict[str, CfnCondition] = field(default_factory=dict)
    """A function whose layer is there only when the condition holds."""


class SchedulerStack(Stack):
    def __init__(
        self,
        scope: Construct,
        stage: str,
        *,
        config: StageConfig,
        deploy_id: str | None = None,
        alarm_email: str | None = None,
        with_app: bool = True,
        organization_trail: bool = False,
        **kwargs: object,
    ) -> None:
        # Chalice packages the stage named by this construct's id: the stack's id is the stage.
        construct_id = stage if with_app else f"{stage}-data"
        super().__init__(scope, construct_id, stack_name=f"event-scheduler-{construct_id}", **kwargs)  # type: ignore[arg-type]
        chalice_config = ChaliceConfig(stage)
        worker = chalice_config.function("deliver")
        webhook_url = CfnParameter(
            self, "WebhookUrl", description="Where deliveries are POSTed (https://...)"
        )
        jwks_url = CfnParameter(self, "JwksUrl", default="", description="RS256 keys (empty: HS256 secret)")
        jwt_issuer = CfnParameter(self, "JwtIssuer", default="", description="Expected iss claim")
        jwt_audience = CfnParameter(self, "JwtAudience", default="", description="Expected aud claim")

        network = Network(self, "Network", nat_gateways=config.nat_gateways)
        database = Database(
            self,
            "Database",
            config=config,
            vpc=network.vpc,
            subnets=network.data_subnets,
            clients=network.functions,
        )
        secrets = AppSecrets(self, "Secrets", stage=stage, keep=config.keep_data)
        queues = DeliveryQueue(
            self,
            "Delivery",
            worker_timeout_seconds=worker.timeout_seconds,
            max_attempts=chalice_config.max_attempts,
            # chalice deploy names the worker's queue from app.py; the CDK points it at any ARN
            queue_name=None if with_app else handlers_queue_name(),
        )
        ledger = Ledger(self, "Ledger", keep=config.keep_data)
        if not organization_trail:
            AuditTrail(self, "Audit", stage=stage)

        endpoint_events = sns.Topic(
            self, "EndpointEvents", display_name=f"event-scheduler {stage} endpoint events", enforce_ssl=True
        )
        app_db = {"DB_SECRET_ARN": database.app_secret.secret_arn, "DB_HOST": database.proxy.endpoint}
        read_app_db = allow(READ_SECRET, database.app_secret.secret_arn)
        authorizer_env = {
            "JWT_SECRET_ARN": secrets.jwt_signing.secret_arn,
            "JWKS_URL": jwks_url.value_as_string,
            "JWT_ISSUER": jwt_issuer.value_as_string,
            "JWT_AUDIENCE": jwt_audience.value_as_string,
        }
        wiring = Wiring(
            environment={
                # The queue: POST /endpoints/{id}/recover and /events/{id}/replay send to it;
                # GET /overview reads its counts and the DLQ's.
                "api_handler": {
                    **app_db,
                    "LEDGER_TABLE": ledger.table.table_name,
                    "QUEUE_URL": queues.queue.queue_url,
                    "DLQ_URL": queues.dead_letters.queue_url,
                    "OPS_TOPIC_ARN": endpoint_events.topic_arn,
                },
                "sweep": {**app_db, "QUEUE_URL": queues.queue.queue_url},
                "deliver": {
                    **app_db,
                    "QUEUE_URL": queues.queue.queue_url,
                    "DLQ_URL": queues.dead_letters.queue_url,
                    "LEDGER_TABLE": ledger.table.table_name,
                    "WEBHOOK_URL": webhook_url.value_as_string,
                    "WEBHOOK_SECRET_ARN": secrets.webhook_signing.secret_arn,
                    "OPS_TOPIC_ARN": endpoint_events.topic_arn,
                },
                # Only the migrations log in as the master user; they create the app's role.
                "migrate": {
                    "DB_SECRET_ARN": database.secret.secret_arn,
                    "DB_HOST": database.proxy.endpoint,
                    "APP_DB_SECRET_ARN": database.app_secret.secret_arn,
                },
                "jwt_auth": authorizer_env,
            },
            grants={
                "api_handler": [
                    read_app_db,
                    # The table and its by_endpoint index (GET /endpoints/{id}/stats).
                    allow(LEDGER_READ, ledger.table.table_arn, f"{ledger.table.table_arn}/index/*"),
                    allow(["sqs:SendMessage"], queues.queue.queue_arn),
                    allow(["sqs:GetQueueAttributes"], queues.queue.queue_arn, queues.dead_letters.queue_arn),
                    allow(["sns:Publish"], endpoint_events.topic_arn),
                ],
                "sweep": [read_app_db, allow(SEND, queues.queue.queue_arn)],
                "deliver": [
                    allow(READ_SECRET, database.app_secret.secret_arn, secrets.webhook_signing.secret_arn),
                    allow(CONSUME, queues.queue.queue_arn),
                    allow(SEND, queues.dead_letters.queue_arn),
                    allow(LEDGER_WRITE, ledger.table.table_arn),
                    allow(["sns:Publish"], endpoint_events.topic_arn),
                    # The teams' own queues, topics and buses the stage lists (endpoints).
                    *(
                        allow([action], *arns)
                        for action, arns in endpoint_grants(chalice_config.endpoint_allowed_arns).items()
                    ),
                ],
                "migrate": [allow(READ_SECRET, database.secret.secret_arn, database.app_secret.secret_arn)],
                "jwt_auth": [allow(READ_SECRET, secrets.jwt_signing.secret_arn)],
            },
        )
        self._secrets_extension(wiring, chalice_config, jwks_url)
        monitoring = Monitoring(self, "Monitoring", stage=stage, alarm_email=alarm_email)
        api_name = f"event-scheduler-{stage}"
        if with_app:
            names = self._app(
                stage, config, chalice_config, network, database, queues, wiring, monitoring, deploy_id
            )
        else:
            names = self._roles_for_chalice_deploy(stage, network, wiring)
            for logical_id, name in names.items():
                monitoring.watch_function(logical_id, name)
        monitoring.watch_api(api_name, chalice_config.api_stage_name, "APIHandler")
        monitoring.watch_queues(queues.queue, queues.dead_letters)
        monitoring.watch_database(database.instance)
        monitoring.watch_endpoint_events(endpoint_events)
        service = chalice_config.environment().get("POWERTOOLS_SERVICE_NAME", "event-scheduler")
        monitoring.watch_worker(service)
        if with_app:
            self._canary(stage, config, chalice_config, secrets, authorizer_env, monitoring)
        Costs(self, "Costs", stage=stage, monthly_usd=config.monthly_budget_usd, topic=monitoring.topic)

        dashboards.operations(
            self,
            stage=stage,
            api_name=api_name,
            api_stage=chalice_config.api_stage_name,
            functions=names,
            queue=queues.queue,
            dead_letters=queues.dead_letters,
            database=database.instance,
            alarms=monitoring.alarms,
            service=service,
        )
        dashboards.deliveries(
            self,
            stage=stage,
            service=service,
        )
        self._outputs(queues, ledger, database, monitoring, secrets)

    def _secrets_extension(
        self, wiring: Wiring, chalice_config: ChaliceConfig, jwks_url: CfnParameter
    ) -> None:
        """The extension's layer and port for the functions that read secrets when they start;
        the authorizer's layer only without a JWKS URL (RS256 reads no secret)."""
        extension = secrets_extension.SecretsExtension(self, "SecretsExtension")
        for name in WITH_SECRETS_EXTENSION:
            wiring.layers[name] = extension.layer_arn(chalice_config.function(name).architecture)
            wiring.environment[name] = {**wiring.environment[name], **secrets_extension.ENVIRONMENT}
        wiring.layer_conditions["jwt_auth"] = CfnCondition(
            self, "AuthorizerUsesSharedSecret", expression=Fn.condition_equals(jwks_url.value_as_string, "")
        )

    def _app(
        self,
        stage: str,
        config: StageConfig,
        chalice_config: ChaliceConfig,
        network: Network,
        database: Database,
        queues: DeliveryQueue,
        wiring: Wiring,
        monitoring: Monitoring,
        deploy_id: str | None,
    ) -> dict[str, str]:
        worker = chalice_config.function("deliver")
        app = ChaliceApp(self, "App")
        self.app = app
        app.place_in_vpc(network.function_subnets.subnets, network.functions)
        functions = {
            "api_handler": app.api,
            "sweep": app.sweep,
            "deliver": app.deliver,
            "migrate": app.migrate,
        }
        for authorizer in app.authorizers:
            functions["jwt_auth"] = authorizer
        for name, function in functions.items():
            app.set_environment(function, wiring.environment[name])
            app.grant(function, *wiring.grants[name])
            if name in wiring.layers:
                app.add_layer(function, wiring.layers[name], wiring.layer_conditions.get(name))
        app.consume_queue(queues.queue.queue_arn, max_concurrency=max(2, worker.reserved_concurrency or 2))

        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_WEEK)
        api_gateway_logging_role(self)
        app.configure_stage(stage, chalice_config.api_stage_name, access_logs)

        migrations = SchemaMigrations(
            self,
            "Migrations",
            migrator=app.chalice.get_function(app.migrate.logical_id),
            deploy_id=deploy_id or migrations_digest(),
        )
        # The proxy answers only once its target group is registered: migrate after that.
        migrations.resource.node.add_dependency(database.proxy_target_group)
        for function in app.canaried:
            function.resource.node.add_dependency(migrations.resource)

        names = {f.logical_id: f.resource.ref for f in app.canaried}
        for logical_id, name in names.items():
            monitoring.watch_function(logical_id, name)
        return names

    def _canary(
        self,
        stage: str,
        config: StageConfig,
        chalice_config: ChaliceConfig,
        secrets: AppSecrets,
        authorizer_env: dict[str, str],
        monitoring: Monitoring,
    ) -> None:
        app = self.app
        canary = config.deployment_type != "AllAtOnce"
        hook: PreTrafficHook | None = None
        if canary:
            by_id = {f.logical_id: f.resource.ref for f in app.canaried}
            for function in app.canaried:
                version = Fn.select(7, Fn.split(":", Fn.ref(f"{function.logical_id}.Version")))
                monitoring.watch_new_version(function.logical_id, function.resource.ref, version, ALIAS)
            hook = PreTrafficHook(
                self,
                "PreTraffic",
                stage=stage,
                environment={
                    "API_FUNCTION": by_id["APIHandler"],
                    "WORKER_FUNCTION": by_id["Deliver"],
                    "AUTHORIZER_FUNCTION": by_id["JwtAuth"],
                    "API_STAGE": chalice_config.api_stage_name,
                    "JWT_SECRET_ARN": authorizer_env["JWT_SECRET_ARN"],
                    "JWKS_URL": authorizer_env["JWKS_URL"],
                    "JWT_ISSUER": authorizer_env["JWT_ISSUER"],
                    "JWT_AUDIENCE": authorizer_env["JWT_AUDIENCE"],
                },
            )
            hook.may_invoke([by_id[name] for name in PROBED])
            hook.may_read(secrets.jwt_signing.secret_arn)
        app.enable_canary(
            config.deployment_type,
            monitoring.rollback,
            hook.function.function_name if hook else None,
            list(PROBED),
        )

    def _roles_for_chalice_deploy(self, stage: str, network: Network, wiring: Wiring) -> dict[str, str]:
        """One role per function, with Chalice's policy files plus the grants, for `chalice deploy`."""
        config = json.loads(CHALICE_CONFIG.read_text())
        CfnOutput(
            self,
            "FunctionSubnetIds",
            value=",".join(subnet.subnet_id for subnet in network.function_subnets.subnets),
        )
        CfnOutput(self, "FunctionSecurityGroupId", value=network.functions.security_group_id)
        for name, logical_id in LOGICAL_IDS.items():
            policy_file = config["lambda_functions"][name]["iam_policy_file"]
            base = iam.PolicyDocument.from_json(json.loads((ROOT / ".chalice" / policy_file).read_text()))
            role = iam.Role(
                self,
                f"{logical_id}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                inline_policies={
                    "chalice": base,
                    "grants": iam.PolicyDocument(statements=wiring.grants[name]),
                },
            )
            CfnOutput(self, f"{logical_id}RoleArn", value=role.role_arn)
            CfnOutput(self, f"{logical_id}Environment", value=self.to_json_string(wiring.environment[name]))
            # Comma-separated layer ARNs for the function's `layers` (empty: none).
            layer = wiring.layers.get(name, "")
            condition = wiring.layer_conditions.get(name)
            if condition is not None:
                layer = Fn.condition_if(condition.logical_id, layer, "").to_string()
            CfnOutput(self, f"{logical_id}Layers", value=layer)
        prefix = f"event-scheduler-{stage}"
        # The names `chalice deploy` gives the functions: the alarms and dashboards watch them.
        return {
            "APIHandler": prefix,
            "Sweep": f"{prefix}-sweep",
            "Deliver": f"{prefix}-deliver",
            "JwtAuth": f"{prefix}-jwt_auth",
        }

    def _outputs(
        self,
        queues: DeliveryQueue,
        ledger: Ledger,
        database: Database,
        monitoring: Monitoring,
        secrets: AppSecrets,
    ) -> None:
        CfnOutput(self, "QueueUrl", value=queues.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=queues.dead_letters.queue_url)
        CfnOutput(self, "LedgerTable", value=ledger.table.table_name)
        CfnOutput(self, "DatabaseSecretArn", value=database.secret.secret_arn)
        CfnOutput(self, "DatabaseAppSecretArn", value=database.app_secret.secret_arn)
        CfnOutput(self, "DatabaseProxyEndpoint", value=database.proxy.endpoint)
        CfnOutput(self, "JwtSigningSecretArn", value=secrets.jwt_signing.secret_arn)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)


def handlers_queue_name() -> str:
    """The queue name app.py gives Chalice (read from the source: importing it is not needed)."""
    import sys

    sys.path.insert(0, str(ROOT))
    from chalicelib.handlers import QUEUE_NAME

    return QUEUE_NAME


__all__ = ["Function", "SchedulerStack"]
