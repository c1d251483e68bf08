"""One stage of event-scheduler: the Chalice app and everything around it, in one stack.

The seed's separate concerns (database, API, scheduler, queue, monitoring) are separate
constructs here rather than separate stacks: Chalice emits the API, the schedule and the
worker as one template, and one stack per stage keeps every reference inside CloudFormation
(no exports to untangle). Stateful resources are retained in prod.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import dashboards
from stacks.app_secrets import AppSecrets
from stacks.chalice_app import ChaliceApp, Function, api_gateway_logging_role
from stacks.database import Database
from stacks.delivery_queue import DeliveryQueue
from stacks.ledger import Ledger
from stacks.monitoring import Monitoring
from stacks.network import Network
from stacks.schema_migrations import SchemaMigrations, migrations_digest
from stacks.stages import ChaliceConfig, StageConfig

READ_SECRET = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
SEND = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
LEDGER_READ = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
LEDGER_WRITE = [*LEDGER_READ, "dynamodb:PutItem", "dynamodb:UpdateItem"]


def allow(actions: list[str], *resources: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=actions, resources=list(resources))


class SchedulerStack(Stack):
    def __init__(
        self,
        scope: Construct,
        stage: str,
        *,
        config: StageConfig,
        deploy_id: str | None = None,
        alarm_email: str | None = None,
        **kwargs: object,
    ) -> None:
        # Chalice packages the stage named by this construct's id: the stack's id is the stage.
        super().__init__(scope, stage, stack_name=f"event-scheduler-{stage}", **kwargs)  # type: ignore[arg-type]
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
        )
        ledger = Ledger(self, "Ledger", keep=config.keep_data)

        app = ChaliceApp(self, "App")
        app.place_in_vpc(network.function_subnets.subnets, network.functions)
        database_env = {"DB_SECRET_ARN": database.secret.secret_arn, "DB_HOST": database.proxy.endpoint}
        read_db_secret = allow(READ_SECRET, database.secret.secret_arn)
        app.set_environment(app.api, {**database_env, "LEDGER_TABLE": ledger.table.table_name})
        app.grant(app.api, read_db_secret, allow(LEDGER_READ, ledger.table.table_arn))
        app.set_environment(app.sweep, {**database_env, "QUEUE_URL": queues.queue.queue_url})
        app.grant(app.sweep, read_db_secret, allow(SEND, queues.queue.queue_arn))
        app.set_environment(
            app.deliver,
            {
                **database_env,
                "QUEUE_URL": queues.queue.queue_url,
                "DLQ_URL": queues.dead_letters.queue_url,
                "LEDGER_TABLE": ledger.table.table_name,
                "WEBHOOK_URL": webhook_url.value_as_string,
                "WEBHOOK_SECRET_ARN": secrets.webhook_signing.secret_arn,
            },
        )
        app.grant(
            app.deliver,
            allow(READ_SECRET, database.secret.secret_arn, secrets.webhook_signing.secret_arn),
            allow(CONSUME, queues.queue.queue_arn),
            allow(SEND, queues.dead_letters.queue_arn),
            allow(LEDGER_WRITE, ledger.table.table_arn),
        )
        app.consume_queue(queues.queue.queue_arn, max_concurrency=max(2, worker.reserved_concurrency or 2))
        app.set_environment(app.migrate, database_env)
        app.grant(app.migrate, read_db_secret)
        for authorizer in app.authorizers:
            app.set_environment(
                authorizer,
                {
                    "JWT_SECRET_ARN": secrets.jwt_signing.secret_arn,
                    "JWKS_URL": jwks_url.value_as_string,
                    "JWT_ISSUER": jwt_issuer.value_as_string,
                    "JWT_AUDIENCE": jwt_audience.value_as_string,
                },
            )
            app.grant(authorizer, allow(READ_SECRET, secrets.jwt_signing.secret_arn))

        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_WEEK)
        api_gateway_logging_role(self)
        api_name = f"event-scheduler-{stage}"
        app.configure_stage(stage, access_logs)

        migrations = SchemaMigrations(
            self,
            "Migrations",
            migrator=app.chalice.get_function(app.migrate.logical_id),
            deploy_id=deploy_id or migrations_digest(),
        )
        for function in app.canaried:
            function.resource.node.add_dependency(migrations.resource)

        monitoring = Monitoring(self, "Monitoring", stage=stage, alarm_email=alarm_email)
        names = {f.logical_id: f.resource.ref for f in app.canaried}
        for logical_id, name in names.items():
            monitoring.watch_function(logical_id, name)
        monitoring.watch_api(api_name, chalice_config.api_stage_name, app.api.logical_id)
        monitoring.watch_queues(queues.queue, queues.dead_letters)
        monitoring.watch_database(database.instance)
        service = chalice_config.environment().get("POWERTOOLS_SERVICE_NAME", "event-scheduler")
        monitoring.watch_worker(service)
        app.enable_canary(config.deployment_type, monitoring.rollback)

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
        CfnOutput(self, "DatabaseProxyEndpoint", value=database.proxy.endpoint)
        CfnOutput(self, "JwtSigningSecretArn", value=secrets.jwt_signing.secret_arn)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)


__all__ = ["Function", "SchedulerStack"]
