"""Two dashboards: operations (is it healthy?) and deliveries (on time, late, failed?).

The delivery metrics are the app's own, in CloudWatch embedded metric format through
Powertools: namespace EventScheduler, dimension `service` (POWERTOOLS_SERVICE_NAME).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.monitoring import DELIVERY_COUNTS, METRICS_NAMESPACE, app_metric

MINUTE = Duration.minutes(1)


def _lambda(metric: str, function_name: str, statistic: str) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/Lambda",
        metric_name=metric,
        dimensions_map={"FunctionName": function_name},
        statistic=statistic,
        period=MINUTE,
    )


def operations(
    scope: Construct,
    *,
    stage: str,
    api_name: str,
    api_stage: str,
    functions: dict[str, str],
    queue: sqs.IQueue,
    dead_letters: sqs.IQueue,
    database: rds.IDatabaseInstance,
    alarms: list[cw.Alarm],
    service: str,
) -> cw.Dashboard:
    api = {"ApiName": api_name, "Stage": api_stage}

    def api_metric(name: str, statistic: str) -> cw.Metric:
        return cw.Metric(
            namespace="AWS/ApiGateway",
            metric_name=name,
            dimensions_map=api,
            statistic=statistic,
            period=MINUTE,
        )

    dashboard = cw.Dashboard(
        scope, "OperationsDashboard", dashboard_name=f"event-scheduler-{stage}-operations"
    )
    dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24))
    dashboard.add_widgets(
        cw.GraphWidget(
            title="API requests and errors",
            left=[api_metric("Count", "Sum"), api_metric("4XXError", "Sum"), api_metric("5XXError", "Sum")],
        ),
        cw.GraphWidget(
            title="API latency (ms)", left=[api_metric("Latency", "p50"), api_metric("Latency", "p99")]
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Lambda errors and throttles",
            left=[_lambda(m, name, "Sum") for name in functions.values() for m in ("Errors", "Throttles")],
        ),
        cw.GraphWidget(
            title="Lambda duration p99 (ms) and concurrency",
            left=[_lambda("Duration", name, "p99") for name in functions.values()],
            right=[_lambda("ConcurrentExecutions", name, "Maximum") for name in functions.values()],
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Queues",
            left=[
                queue.metric_approximate_number_of_messages_visible(period=MINUTE, statistic="Maximum"),
                dead_letters.metric_approximate_number_of_messages_visible(
                    period=MINUTE, statistic="Maximum"
                ),
            ],
            right=[queue.metric_approximate_age_of_oldest_message(period=MINUTE, statistic="Maximum")],
        ),
        cw.GraphWidget(
            title="Database",
            left=[database.metric_cpu_utilization(period=MINUTE)],
            right=[database.metric_database_connections(period=MINUTE)],
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Messages the worker could not process (database, ledger or DLQ unreachable)",
            left=[app_metric("Unprocessed", service)],
            width=24,
        )
    )
    return dashboard


def deliveries(scope: Construct, *, stage: str, service: str) -> cw.Dashboard:
    def app_metric(name: str, statistic: str) -> cw.Metric:
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": service},
            statistic=statistic,
            period=MINUTE,
        )

    on_time = cw.MathExpression(
        expression="completed - late",
        using_metrics={
            "completed": app_metric("Completed", "Sum"),
            "late": app_metric("CompletedLate", "Sum"),
        },
        label="on time",
        period=MINUTE,
    )
    dashboard = cw.Dashboard(
        scope, "DeliveriesDashboard", dashboard_name=f"event-scheduler-{stage}-deliveries"
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="On time vs late",
            left=[on_time, app_metric("CompletedLate", "Sum")],
            stacked=True,
            width=12,
        ),
        cw.GraphWidget(
            title="Pipeline counts per minute",
            left=[app_metric(name, "Sum") for name in DELIVERY_COUNTS],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Lateness (s)",
            left=[app_metric("LatenessSeconds", stat) for stat in ("p50", "p99", "Maximum")],
            width=12,
        ),
        cw.GraphWidget(
            title="Webhook latency (ms)",
            left=[app_metric("DeliveryLatencyMs", stat) for stat in ("p50", "p99")],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cw.SingleValueWidget(
            title="Today",
            metrics=[app_metric(name, "Sum").with_(period=Duration.days(1)) for name in DELIVERY_COUNTS],
            width=24,
        )
    )
    return dashboard
