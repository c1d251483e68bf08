"""What the synthesized templates promise: read from the JSON CloudFormation will receive."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from stacks import chalice_app, monitoring, secrets_extension
from stacks.database import APP_USER, ENGINE_VERSION
from stacks.ledger import TTL_ATTRIBUTE
from stacks.stages import CANARY, CANARY_WINDOW_SECONDS, STAGES, ChaliceConfig

from chalicelib.adapters.secrets import EXTENSION_PORT
from chalicelib.settings import DLQ_MAX_RECEIVE_COUNT
from tests.infra.conftest import Template

pytestmark = pytest.mark.infra

IN_VPC = ("APIHandler", "Sweep", "Deliver", "Migrate")
INVOKED = ("APIHandler", "Sweep", "Deliver")


def logical_id(template: Template, kind: str, prefix: str) -> str:
    return template.one(kind, prefix)[0]


def alarm(template: Template, prefix: str) -> dict[str, Any]:
    return template.props(logical_id(template, "AWS::CloudWatch::Alarm", f"Monitoring{prefix}"))


def statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template.resources.items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents.extend(p["PolicyDocument"] for p in props.get("Policies", []))
        for document in documents:
            for statement in document["Statement"]:
                yield name, statement


def test_the_queue_redrives_to_the_dlq_only_well_after_the_workers_attempts(template: Template) -> None:
    stage = template.path.stem.split(".")[0]
    queue = template.props(logical_id(template, "AWS::SQS::Queue", "DeliveryDeliveries"))
    dlq_id = logical_id(template, "AWS::SQS::Queue", "DeliveryDeadLetters")
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": DLQ_MAX_RECEIVE_COUNT,
    }
    assert ChaliceConfig(stage).max_attempts < DLQ_MAX_RECEIVE_COUNT
    assert template.props(dlq_id)["MessageRetentionPeriod"] == 14 * 24 * 3600
    worker_timeout = template.props("Deliver")["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout


def test_the_worker_reads_the_real_queue_and_reports_partial_batch_failures(template: Template) -> None:
    deliver = template.props("Deliver")
    source = deliver["Events"]["DeliverSqsEventSource"]
    assert source["Type"] == "SQS"
    props = source["Properties"]
    queue_id = logical_id(template, "AWS::SQS::Queue", "DeliveryDeliveries")
    assert props["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    maximum = props["ScalingConfig"]["MaximumConcurrency"]
    assert 2 <= maximum <= deliver["ReservedConcurrentExecutions"], (
        "more pollers than the worker may run throttle"
    )


@pytest.mark.parametrize(
    ("prefix", "threshold", "periods", "period_seconds"),
    [
        ("ApiErrorRate", 0.05, 5, 60),  # 5xx share above 5 %, 5 minutes
        ("ApiLatencyP99", 2000, 5, 60),  # p99 above 2 s, 5 minutes
        ("QueueDepth", 1000, 10, 60),  # over 1,000 waiting, 10 minutes
        ("DeadLettersNotEmpty", 0, 1, 60),  # any message in the DLQ
        ("DatabaseCpu", 80, 3, 300),  # CPU above 80 %, 15 minutes
    ],
)
def test_the_seeds_alarms_and_thresholds(
    template: Template, prefix: str, threshold: float, periods: int, period_seconds: int
) -> None:
    props = alarm(template, prefix)
    assert props["Threshold"] == threshold
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["EvaluationPeriods"] == periods
    assert props.get("DatapointsToAlarm", periods) == periods, "every period must breach: sustained"
    assert props["Period"] == period_seconds
    topic = logical_id(template, "AWS::SNS::Topic", "MonitoringAlarms")
    assert props["AlarmActions"] == [{"Ref": topic}]


def test_the_latency_alarm_reads_p99_of_the_api(template: Template) -> None:
    props = alarm(template, "ApiLatencyP99")
    assert props["ExtendedStatistic"] == "p99"
    assert props["Namespace"] == "AWS/ApiGateway"
    assert props["MetricName"] == "Latency"


def test_every_invoked_function_has_an_error_rate_and_a_throttle_alarm(template: Template) -> None:
    for function in INVOKED:
        rate = alarm(template, f"{function}ErrorRate")
        assert rate["Threshold"] == monitoring.ERROR_RATE_PERCENT
        assert (rate["EvaluationPeriods"], rate["DatapointsToAlarm"]) == (5, 5)
        expression = next(m for m in rate["Metrics"] if "Expression" in m)
        assert "errors" in expression["Expression"]
        assert "invocations" in expression["Expression"]
        throttles = alarm(template, f"{function}Throttles")
        assert throttles["MetricName"] == "Throttles"
        assert throttles["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert (throttles["Threshold"], throttles["EvaluationPeriods"]) == (0, 1)
        if template.path.stem.startswith("dev"):
            continue  # dev deploys all at once: no canary to judge
        new_version = alarm(
            template, f"{function}NewVersion{'Errors' if function == 'Sweep' else 'ErrorRate'}"
        )
        found = [m["MetricStat"]["Metric"] for m in new_version.get("Metrics", []) if "MetricStat" in m]
        dimensions = {
            d["Name"]: d["Value"] for metric in found or [new_version] for d in metric["Dimensions"]
        }
        assert set(dimensions) == {"FunctionName", "Resource", "ExecutedVersion"}
        assert dimensions["ExecutedVersion"] == {
            "Fn::Select": [7, {"Fn::Split": [":", {"Ref": f"{function}.Version"}]}]
        }


def test_data_is_encrypted_at_rest_and_the_database_demands_tls(template: Template) -> None:
    _, db = template.one("AWS::RDS::DBInstance")
    assert db["Properties"]["StorageEncrypted"] is True
    for queue in template.of_type("AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    table = template.one("AWS::DynamoDB::Table")[1]["Properties"]
    assert table["SSESpecification"] == {"SSEEnabled": True}
    parameters = template.one("AWS::RDS::DBParameterGroup")[1]["Properties"]["Parameters"]
    assert parameters["rds.force_ssl"] == "1"
    proxy = template.one("AWS::RDS::DBProxy")[1]["Properties"]
    assert proxy["RequireTLS"] is True
    assert proxy["EngineFamily"] == "POSTGRESQL"


def test_the_database_is_private_postgres_16_with_7_day_backups(template: Template) -> None:
    db_id, instance = template.one("AWS::RDS::DBInstance")
    db = instance["Properties"]
    assert db["PubliclyAccessible"] is False
    assert (db["Engine"], db["EngineVersion"]) == ("postgres", ENGINE_VERSION.postgres_full_version)
    assert db["EngineVersion"].startswith("16.")  # a pinned minor (cfn-lint W3691 checks it)
    assert db["BackupRetentionPeriod"] == 7
    subnet_group = template.one("AWS::RDS::DBSubnetGroup")[1]["Properties"]
    for subnet in subnet_group["SubnetIds"]:
        assert "data" in subnet["Ref"], "the database lives in the isolated subnets"
    # Only the proxy may reach the instance; only the functions may reach the proxy.
    ingress = template.of_type("AWS::EC2::SecurityGroupIngress")
    assert ingress, "reachability is granted by explicit rules"
    for rule in ingress.values():
        assert "CidrIp" not in rule["Properties"], "no address range may reach the database"
        assert "SourceSecurityGroupId" in rule["Properties"], "only named security groups"
        assert rule["Properties"]["FromPort"] in (5432, {"Fn::GetAtt": [db_id, "Endpoint.Port"]})


def test_multi_az_only_in_prod(templates: dict[str, Template]) -> None:
    for stage, template in templates.items():
        db = template.one("AWS::RDS::DBInstance")[1]
        assert db["Properties"]["MultiAZ"] is (stage == "prod")
        assert db["Properties"]["DBInstanceClass"] == f"db.{STAGES[stage].db_instance_class}"
        assert db["DeletionPolicy"] == ("Snapshot" if stage == "prod" else "Delete")


def test_no_grant_uses_a_wildcard_action(template: Template) -> None:
    seen = 0
    for name, statement in statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            seen += 1
            assert action != "*", f"{name} grants every action"
            assert not action.endswith(":*"), f"{name} grants every action of a service: {action}"
    assert seen > 20


def test_each_function_has_its_own_role_and_only_its_grants(template: Template) -> None:
    roles = {template.props(f)["Role"]["Fn::GetAtt"][0] for f in (*IN_VPC,)}
    assert len(roles) == len(IN_VPC)
    grants = {
        name: [s for policy, s in statements(template) if policy.startswith(f"App{name}Grants")]
        for name in IN_VPC
    }
    actions = {name: {a for s in found for a in _list(s["Action"])} for name, found in grants.items()}
    assert "sqs:SendMessage" in actions["Sweep"]
    assert "sqs:ReceiveMessage" not in actions["Sweep"]
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:PutItem"} <= actions["Deliver"]
    # The API only sends (POST /endpoints/{id}/recover, /events/{id}/replay) and counts (GET
    # /overview); it never consumes.
    assert {a for a in actions["APIHandler"] if a.startswith("sqs:")} == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
    }
    [counting] = [s for s in grants["APIHandler"] if _list(s["Action"]) == ["sqs:GetQueueAttributes"]]
    assert len(_list(counting["Resource"])) == 2  # the delivery queue and its DLQ
    assert "DLQ_URL" in template.props("APIHandler")["Environment"]["Variables"]
    assert actions["Migrate"] == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    for name in IN_VPC:
        # The function waits for its grants (an SQS event source checks them when created).
        assert any(d.startswith(f"App{name}Grants") for d in template.resources[name]["DependsOn"])


def test_database_reaching_functions_are_in_the_private_subnets(template: Template) -> None:
    for function in IN_VPC:
        vpc = template.props(function)["VpcConfig"]
        assert all("functions" in subnet["Ref"] for subnet in vpc["SubnetIds"])
        env = template.props(function)["Environment"]["Variables"]
        assert set(env) >= {"DB_SECRET_ARN", "DB_HOST", "STAGE"}
        assert "DATABASE_URL" not in env, "credentials never sit in the environment"
        assert env["DB_HOST"]["Fn::GetAtt"][1] == "Endpoint"  # the proxy, not the instance


def test_the_authorizer_stays_outside_the_vpc(template: Template) -> None:
    authorizers = [n for n in template.of_type("AWS::Serverless::Function") if n not in IN_VPC]
    assert len(authorizers) == 1, authorizers  # jwt_auth, the only function outside the VPC
    for name in authorizers:
        props = template.props(name)
        assert "VpcConfig" not in props
        assert "JWT_SECRET_ARN" in props["Environment"]["Variables"]
        assert "DB_SECRET_ARN" not in props["Environment"]["Variables"]


def _extension_layer(template: Template, layers: Any) -> str:
    """The architecture whose mapping `layers` (one FindInMap on the region) reads."""
    [layer] = layers
    mapping_id, region, key = layer["Fn::FindInMap"]
    assert (region, key) == ({"Ref": "AWS::Region"}, "arn")
    arns = {region: row["arn"] for region, row in template.raw["Mappings"][mapping_id].items()}
    [architecture] = [a for a in secrets_extension.ARCHITECTURES if secrets_extension.known_arns(a) == arns]
    return architecture


def test_the_functions_that_read_secrets_at_start_use_the_secrets_extension(template: Template) -> None:
    # API, sweeper, worker: their database secret; the authorizer: the HS256 signing secret.
    for function in ("APIHandler", "Sweep", "Deliver", "JwtAuth"):
        props = template.props(function)
        assert props["Environment"]["Variables"][EXTENSION_PORT] == secrets_extension.PORT
        layers = props["Layers"]
        if function == "JwtAuth":  # with a JWKS URL (RS256) it reads no secret: no extension
            condition, layers, otherwise = layers["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            assert template.raw["Conditions"][condition] == {"Fn::Equals": [{"Ref": "JwksUrl"}, ""]}
        assert [_extension_layer(template, layers)] == props["Architectures"]
    # The migrator runs once per deploy, where a cold start costs nothing; no other function
    # (the PreTraffic hook, the custom resources' providers) reads secrets at start.
    others = [*template.of_type("AWS::Lambda::Function"), "Migrate"]
    for function in others:
        props = template.props(function)
        assert "Layers" not in props, function
        assert EXTENSION_PORT not in props.get("Environment", {}).get("Variables", {}), function


def test_a_region_with_no_known_extension_layer_is_refused_before_anything_is_created(
    template: Template,
) -> None:
    [(mapping_id, mapping)] = [(n, m) for n, m in template.raw["Mappings"].items() if "SecretsExtension" in n]
    [rule] = [r for n, r in template.raw["Rules"].items() if n.startswith("SecretsExtension")]
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [sorted(mapping), {"Ref": "AWS::Region"}]}
    assert "us-east-1" in mapping, mapping_id


def test_the_worker_gets_the_pipelines_settings(template: Template) -> None:
    env = template.props("Deliver")["Environment"]["Variables"]
    assert set(env) >= {
        "QUEUE_URL",
        "DLQ_URL",
        "LEDGER_TABLE",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET_ARN",
        "MAX_ATTEMPTS",
    }
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == monitoring.METRICS_NAMESPACE


def test_canary_deployments_roll_back_on_the_new_versions_alarms(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    for function in INVOKED:
        props = template.props(function)
        assert props["AutoPublishAlias"] == chalice_app.ALIAS
        preference = props["DeploymentPreference"]
        assert preference["Type"] == CANARY
        alarms = {a["Ref"] for a in preference["Alarms"]}
        assert any(f"{function}NewVersionError" in a for a in alarms)
        assert any("Throttles" in a for a in alarms)
        assert not any(f"{function}ErrorRate" in a for a in alarms), "all versions dilute the canary"
    api_alarms = {a["Ref"] for a in template.props("APIHandler")["DeploymentPreference"]["Alarms"]}
    assert any("NewVersionDurationP99" in a for a in api_alarms)
    assert STAGES["prod"].deployment_type == CANARY == "Canary10Percent10Minutes"
    assert templates["dev"].props("APIHandler")["DeploymentPreference"]["Type"] == "AllAtOnce"


def canary_seconds(deployment_type: str) -> int:
    """How long CodeDeploy's predefined canary keeps the first share (the window alarms act in)."""
    match = re.fullmatch(r"Canary\d+Percent(\d+)Minutes?", deployment_type)
    assert match, f"not a canary: {deployment_type}"
    return int(match[1]) * 60


def test_every_alarm_wired_to_a_canary_can_go_off_before_the_deployment_ends(
    templates: dict[str, Template],
) -> None:
    template = templates["prod"]
    checked = 0
    for name, function in template.of_type("AWS::Serverless::Function").items():
        preference = function["Properties"].get("DeploymentPreference")
        if not preference:
            continue
        window = canary_seconds(preference["Type"])
        assert window == CANARY_WINDOW_SECONDS
        for ref in preference["Alarms"]:
            props = template.props(ref["Ref"])
            periods = props.get("DatapointsToAlarm", props["EvaluationPeriods"])
            period = props.get("Period") or next(
                m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m
            )
            worst = props["EvaluationPeriods"] * period + monitoring.CLOUDWATCH_DELAY_SECONDS
            assert periods <= props["EvaluationPeriods"]
            assert worst < window, f"{ref['Ref']} on {name}: {worst} s to go off, the canary lasts {window} s"
            assert props["TreatMissingData"] == "notBreaching"
            checked += 1
    assert checked >= 9


def test_a_pre_traffic_hook_probes_the_api_the_worker_and_the_authorizer(template: Template) -> None:
    stage = template.path.stem.split(".")[0]
    if stage == "dev":  # all at once: nothing to hold back
        assert "Hooks" not in template.props("APIHandler")["DeploymentPreference"]
        assert not [n for n in template.of_type("AWS::Lambda::Function") if n.startswith("PreTraffic")]
        return
    hook_id, hook = template.one("AWS::Lambda::Function", "PreTraffic")
    props = hook["Properties"]
    assert props["FunctionName"].startswith("CodeDeployHook_")  # what CodeDeploy's role may invoke
    for function in ("APIHandler", "Deliver", "JwtAuth"):
        assert template.props(function)["DeploymentPreference"]["Hooks"] == {"PreTraffic": {"Ref": hook_id}}
    assert "Hooks" not in template.props("Sweep")["DeploymentPreference"]
    env = props["Environment"]["Variables"]
    assert env["API_FUNCTION"] == {"Ref": "APIHandler"}
    assert env["WORKER_FUNCTION"] == {"Ref": "Deliver"}
    assert env["AUTHORIZER_FUNCTION"] == {"Ref": "JwtAuth"}
    actions = {a for n, st in statements(template) if n.startswith("PreTraffic") for a in _list(st["Action"])}
    assert {"codedeploy:PutLifecycleEventHookExecutionStatus", "lambda:InvokeFunction"} <= actions


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cloudtrail_validates_its_logs_into_an_encrypted_expiring_bucket(template: Template) -> None:
    _, trail = template.one("AWS::CloudTrail::Trail")
    props = trail["Properties"]
    assert props["EnableLogFileValidation"] is True
    assert props["IsMultiRegionTrail"] is True
    assert "KMSKeyId" in props
    bucket_id = props["S3BucketName"]["Ref"]
    bucket = template.props(bucket_id)
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 365


def test_a_cost_dashboard_and_a_budget_that_alerts_the_alarm_topic(template: Template) -> None:
    stage = template.path.stem.split(".")[0]
    costs = json.dumps(template.props(logical_id(template, "AWS::CloudWatch::Dashboard", "CostsDashboard")))
    for word in ("EstimatedCharges", "AWSLambda", "AmazonRDS", "us-east-1"):  # billing's region
        assert word in costs
    budget = template.one("AWS::Budgets::Budget")[1]["Properties"]
    assert budget["Budget"]["BudgetLimit"] == {"Amount": STAGES[stage].monthly_budget_usd, "Unit": "USD"}
    topic = logical_id(template, "AWS::SNS::Topic", "MonitoringAlarms")
    for notification in budget["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic}}]
    policy = json.dumps(template.one("AWS::SNS::TopicPolicy", "MonitoringAlarms")[1]["Properties"])
    assert "budgets.amazonaws.com" in policy


def test_the_api_refuses_tls_below_1_2_and_its_execution_logs_expire(template: Template) -> None:
    assert template.props("RestAPI")["SecurityPolicy"] == "TLS_1_2"
    execution = [
        g
        for g in template.of_type("AWS::Logs::LogGroup").values()
        if "API-Gateway-Execution-Logs_" in json.dumps(g["Properties"].get("LogGroupName", ""))
    ]
    [group] = execution
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": "API-Gateway-Execution-Logs_${RestAPI}/v1"}
    assert group["Properties"]["RetentionInDays"] == 7


def test_the_proxy_is_named_per_stage_and_serves_both_logins(template: Template) -> None:
    stage = template.path.stem.split(".")[0]
    proxy = template.one("AWS::RDS::DBProxy")[1]["Properties"]
    assert proxy["DBProxyName"] == f"event-scheduler-{stage}"
    assert len(proxy["Auth"]) == 2
    app_secret_id = logical_id(template, "AWS::SecretsManager::Secret", "DatabaseAppUser")
    generated = template.props(app_secret_id)["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"])["username"] == APP_USER
    for function in INVOKED:
        env = template.props(function)["Environment"]["Variables"]
        assert env["DB_SECRET_ARN"] == {"Ref": app_secret_id}, f"{function} logs in as the app role"
    migrate = template.props("Migrate")["Environment"]["Variables"]
    assert migrate["DB_SECRET_ARN"] != {"Ref": app_secret_id}, "the migrations log in as the master"
    assert migrate["APP_DB_SECRET_ARN"] == {"Ref": app_secret_id}


def test_migrations_wait_for_the_proxys_target_group(template: Template) -> None:
    _, migration = template.one("Custom::SchemaMigrations")
    target_group = logical_id(template, "AWS::RDS::DBProxyTargetGroup", "")
    assert target_group in migration["DependsOn"]


def test_the_api_invokes_the_alias_that_the_canary_shifts(template: Template) -> None:
    body = json.dumps(template.props("RestAPI")["DefinitionBody"])
    assert "${APIHandler.Arn}/invocations" not in body
    assert "${APIHandler.Arn}:live/invocations" in body
    permission = template.props("APIHandlerInvokePermission")
    assert permission["FunctionName"] == {"Ref": "APIHandler.Alias"}


def test_migrations_run_before_new_code(template: Template) -> None:
    migration_id, migration = template.one("Custom::SchemaMigrations")
    assert set(migration["Properties"]) >= {"ServiceToken", "MigrationsDigest", "DeployId"}
    for function in INVOKED:
        assert migration_id in template.resources[function]["DependsOn"]


def test_the_api_stage_throttles_traces_and_logs_json(template: Template) -> None:
    api = template.props("RestAPI")
    assert api["TracingEnabled"] is True
    assert api["EndpointConfiguration"] == "REGIONAL"
    [settings] = api["MethodSettings"]
    assert (settings["ThrottlingBurstLimit"], settings["ThrottlingRateLimit"]) == (1000, 500)
    log_format = json.loads(api["AccessLogSetting"]["Format"])
    assert set(log_format) >= {
        "requestId",
        "ip",
        "requestTime",
        "httpMethod",
        "resourcePath",
        "status",
        "protocol",
        "responseLength",
        "latency",
    }
    assert template.of_type("AWS::ApiGateway::Account"), "API Gateway needs its logging role set"


def test_cors_comes_from_the_stage_settings(template: Template) -> None:
    stage = template.path.stem.split(".")[0]
    origin = ChaliceConfig(stage).environment()["CORS_ALLOW_ORIGIN"]
    assert origin != "*"
    body = json.dumps(template.props("RestAPI")["DefinitionBody"])
    assert f"'{origin}'" in body  # the OPTIONS pre-flight answers with the stage's origin


def test_every_log_group_keeps_7_days(template: Template) -> None:
    groups = template.of_type("AWS::Logs::LogGroup")
    assert len(groups) >= 7  # five functions, access and execution logs, the migration provider
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == 7, name
    assert "ApiHandlerLogGroup" in groups
    assert template.props("ApiHandlerLogGroup")["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${APIHandler}"}


def test_the_ledger_is_on_demand_with_ttl_and_pitr(template: Template) -> None:
    table = template.one("AWS::DynamoDB::Table")[1]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_three_dashboards_operations_deliveries_and_costs(template: Template) -> None:
    dashboards = template.of_type("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 3
    deliveries = json.dumps(template.props(logical_id(template, "AWS::CloudWatch::Dashboard", "Deliveries")))
    for metric in (*monitoring.DELIVERY_COUNTS, "LatenessSeconds", "DeliveryLatencyMs"):
        assert metric in deliveries
    assert monitoring.METRICS_NAMESPACE in deliveries


def test_the_smoke_test_can_find_the_endpoint(template: Template) -> None:
    assert "EndpointURL" in template.raw["Outputs"]
    assert "WebhookUrl" in template.raw["Parameters"]


def test_dashboards_and_alarms_name_only_metrics_the_app_emits(template: Template) -> None:
    from chalicelib.observability import METRIC_NAMES, NAMESPACE

    text = json.dumps(template.raw)
    named = set(re.findall(rf'\\"{NAMESPACE}\\",\s*\\"(\w+)\\"', text))
    for alarm in template.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == NAMESPACE:
            named.add(props["MetricName"])
        for query in props.get("Metrics", []):
            stat = query.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == NAMESPACE:
                named.add(stat["MetricName"])
    assert named, "no app metric found in the template"
    assert named <= METRIC_NAMES


def test_messages_the_worker_could_not_process_raise_an_alarm_and_show_on_operations(
    template: Template,
) -> None:
    # An outage of the database, the ledger or the DLQ ends in batch failures, not Lambda
    # errors: the function's error alarm stays green, so the app's own count must alarm.
    props = alarm(template, "Unprocessed")
    assert (props["Namespace"], props["MetricName"]) == ("EventScheduler", "Unprocessed")
    assert props["Statistic"] == "Sum"
    assert props["Dimensions"] == [{"Name": "service", "Value": "event-scheduler"}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (props["DatapointsToAlarm"], props["EvaluationPeriods"], props["Period"]) == (
        monitoring.UNPROCESSED_MINUTES,
        monitoring.UNPROCESSED_WINDOW,
        60,
    )
    assert props["AlarmActions"] == [{"Ref": logical_id(template, "AWS::SNS::Topic", "MonitoringAlarms")}]
    operations = json.dumps(template.props(logical_id(template, "AWS::CloudWatch::Dashboard", "Operations")))
    assert re.search(r'\\"EventScheduler\\",\s*\\"Unprocessed\\"', operations), "no widget shows it"


def test_the_worker_timeout_covers_a_batch_and_half_a_lease_covers_a_message_coming_back(
    template: Template,
) -> None:
    from chalicelib.settings import Settings

    deliver = template.props("Deliver")
    env = {k: v for k, v in deliver["Environment"]["Variables"].items() if isinstance(v, str)}
    settings = Settings.from_env({k: v for k, v in env.items() if k != "STAGE"})
    batch = deliver["Events"]["DeliverSqsEventSource"]["Properties"]["BatchSize"]
    waves = -(-batch // settings.webhook_concurrency)  # a batch's POSTs go out this many at a time
    worst_post = settings.webhook_connect_timeout + settings.webhook_read_timeout
    assert deliver["Timeout"] >= 2 * waves * worst_post, "a batch of slow receivers must not time out"
    # The worker extends a lease only when less than half of it is left: that half must outlast
    # a run and the queue's visibility timeout, after which the message is received again.
    queue = template.props(logical_id(template, "AWS::SQS::Queue", "DeliveryDeliveries"))
    assert settings.lease.total_seconds() / 2 > queue["VisibilityTimeout"] + deliver["Timeout"]
