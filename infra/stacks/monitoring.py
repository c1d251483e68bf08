"""Alarms to one SNS topic, and the two dashboards (operations; deliveries).

Thresholds are the seed's: error rate > 5 % for 5 minutes, p99 latency > 2 s for 5 minutes,
queue depth > 1,000 for 10 minutes, any message in the DLQ, RDS CPU > 80 % for 15 minutes,
any Lambda throttle. Beyond the seed: messages the worker could not process (its database,
ledger or DLQ unreachable: batch failures, which Lambda's error count never sees) in 2 of
any 5 minutes.

What rolls a canary back watches the *new* version: Lambda publishes each invocation through
an alias under the dimensions FunctionName, Resource (`name:alias`) and ExecutedVersion, so
the new version's error rate (and the API handler's p99 duration) is measured apart from the
90 % still on the old one. Each such alarm can go off inside the canary's window:
evaluation periods × period + CLOUDWATCH_DELAY_SECONDS < the window (tests/infra proves it).
The function-wide alarms page the topic; the throttle alarms and the API's 5xx rate and p99
latency roll back too (they fit the window as well).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MINUTE = Duration.minutes(1)
METRICS_NAMESPACE = "EventScheduler"
DELIVERY_COUNTS = ("Claimed", "AudienceWritten", "Completed", "CompletedLate", "Failed", "Skipped")
ERROR_RATE_PERCENT = 5
LATENCY_P99_MS = 2000
QUEUE_DEPTH = 1000
RDS_CPU_PERCENT = 80
CLOUDWATCH_DELAY_SECONDS = 180
"""A datapoint's lag behind its minute: Lambda and API Gateway metrics land in ~1-2 minutes and
an alarm is evaluated once a minute; 3 minutes is the budget the canary window must allow."""
UNPROCESSED_MINUTES = 2
"""Minutes with an unprocessed message, out of UNPROCESSED_WINDOW: one blip (a dropped
connection, retried at once) stays quiet; an outage shows in the retries that follow it, which
back off (10 s, 20 s, 40 s...) and so do not come every minute."""
UNPROCESSED_WINDOW = 5


def app_metric(name: str, service: str, statistic: str = "Sum") -> cw.Metric:
    """One of the app's own metrics (EMF through Powertools: dimension `service`)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=MINUTE,
    )


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.topic = sns.Topic(
            self, "Alarms", display_name=f"event-scheduler {stage} alarms", enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cw.Alarm] = []
        self.rollback: dict[str, list[str]] = {}
        """Per function logical ID: the names of the alarms that roll its canary back."""

    def _alarm(self, construct_id: str, description: str, **kwargs: object) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            alarm_description=description,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            **kwargs,  # type: ignore[arg-type]
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def watch_function(self, logical_id: str, function_name: str) -> None:
        def metric(name: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Lambda",
                metric_name=name,
                dimensions_map={"FunctionName": function_name},
                statistic="Sum",
                period=MINUTE,
            )

        error_rate = cw.MathExpression(
            expression="100 * errors / MAX([errors, invocations])",
            using_metrics={"errors": metric("Errors"), "invocations": metric("Invocations")},
            period=MINUTE,
            label=f"{logical_id} error rate (%)",
        )
        self._alarm(
            f"{logical_id}ErrorRate",
            f"{logical_id}: more than {ERROR_RATE_PERCENT} % of invocations failed, 5 minutes running",
            metric=error_rate,
            threshold=ERROR_RATE_PERCENT,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=5,
        )
        throttles = self._alarm(
            f"{logical_id}Throttles",
            f"{logical_id}: Lambda throttled an invocation",
            metric=metric("Throttles"),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
        )
        # The function-wide error rate pages; a canary is judged by its own version's.
        self.rollback.setdefault(logical_id, []).append(throttles.alarm_name)

    def watch_new_version(self, logical_id: str, function_name: str, version: str, alias: str) -> None:
        """Alarms on what the version being deployed does, wired to roll its canary back."""
        dimensions = {
            "FunctionName": function_name,
            "Resource": f"{function_name}:{alias}",
            "ExecutedVersion": version,
        }

        def metric(name: str, statistic: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Lambda",
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=MINUTE,
            )

        if logical_id == "Sweep":
            # Once a minute, 10 % of it: about one run of the new version in the window, too few
            # for a rate over 5 minutes. Any failed run of the new version rolls it back.
            errors = self._alarm(
                f"{logical_id}NewVersionErrors",
                f"{logical_id}, the version being deployed: a run failed (rolls the canary back)",
                metric=metric("Errors", "Sum"),
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
            )
        else:
            errors = self._alarm(
                f"{logical_id}NewVersionErrorRate",
                f"{logical_id}, the version being deployed: more than {ERROR_RATE_PERCENT} % of its"
                " invocations failed, 5 minutes running (rolls the canary back)",
                metric=cw.MathExpression(
                    expression="100 * errors / MAX([errors, invocations])",
                    using_metrics={
                        "errors": metric("Errors", "Sum"),
                        "invocations": metric("Invocations", "Sum"),
                    },
                    period=MINUTE,
                    label=f"{logical_id} new version error rate (%)",
                ),
                threshold=ERROR_RATE_PERCENT,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=5,
                datapoints_to_alarm=5,
            )
        self.rollback.setdefault(logical_id, []).append(errors.alarm_name)
        new_version = [errors]
        if logical_id == "APIHandler":
            duration = self._alarm(
                f"{logical_id}NewVersionDurationP99",
                f"{logical_id}, the version being deployed: p99 duration above {LATENCY_P99_MS} ms,"
                " 5 minutes running (rolls the canary back)",
                metric=metric("Duration", "p99"),
                threshold=LATENCY_P99_MS,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=5,
                datapoints_to_alarm=5,
            )
            self.rollback[logical_id].append(duration.alarm_name)
            new_version.append(duration)
        for alarm in new_version:
            Validations.of(alarm).acknowledge(
                Acknowledgment(
                    id="CloudFormation-Validate::F1020",
                    reason="`Ref: X.Version` is SAM's (AutoPublishAlias), resolved by its transform",
                )
            )

    def watch_api(self, api_name: str, api_stage: str, handler_logical_id: str) -> None:
        dimensions = {"ApiName": api_name, "Stage": api_stage}
        errors = self._alarm(
            "ApiErrorRate",
            f"API: more than {ERROR_RATE_PERCENT} % of requests answered 5xx, 5 minutes running",
            metric=cw.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map=dimensions,
                statistic="Average",  # 0/1 per request: the average is the rate
                period=MINUTE,
            ),
            threshold=ERROR_RATE_PERCENT / 100,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=5,
        )
        latency = self._alarm(
            "ApiLatencyP99",
            f"API: p99 latency above {LATENCY_P99_MS} ms, 5 minutes running",
            metric=cw.Metric(
                namespace="AWS/ApiGateway",
                metric_name="Latency",
                dimensions_map=dimensions,
                statistic="p99",
                period=MINUTE,
            ),
            threshold=LATENCY_P99_MS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=5,
        )
        self.rollback.setdefault(handler_logical_id, []).extend([errors.alarm_name, latency.alarm_name])

    def watch_queues(self, queue: sqs.IQueue, dead_letters: sqs.IQueue) -> None:
        self._alarm(
            "QueueDepth",
            f"Deliveries: more than {QUEUE_DEPTH} messages waiting, 10 minutes running",
            metric=queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=MINUTE),
            threshold=QUEUE_DEPTH,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=10,
            datapoints_to_alarm=10,
        )
        self._alarm(
            "DeadLettersNotEmpty",
            "Dead-letter queue: a delivery gave up; inspect it, fix the cause, redrive",
            metric=dead_letters.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=MINUTE
            ),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
        )

    def watch_endpoint_events(self, topic: sns.ITopic) -> None:
        """endpoint.failing, endpoint.disabled and endpoint.enabled go to their own topic (teams
        subscribe to it); any of them raises this alarm, so an operator hears of a failing one."""
        self._alarm(
            "EndpointEvents",
            "Endpoints: one is failing, was disabled or enabled again (see the endpoint events topic)",
            metric=topic.metric_number_of_messages_published(statistic="Sum", period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
        )

    def watch_database(self, instance: rds.IDatabaseInstance) -> None:
        self._alarm(
            "DatabaseCpu",
            f"RDS: CPU above {RDS_CPU_PERCENT} %, 15 minutes running",
            metric=instance.metric_cpu_utilization(statistic="Average", period=Duration.minutes(5)),
            threshold=RDS_CPU_PERCENT,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
        )

    def watch_worker(self, service: str) -> None:
        self._alarm(
            "Unprocessed",
            "Deliveries: the worker could not reach its database, ledger or DLQ "
            f"in {UNPROCESSED_MINUTES} of the last {UNPROCESSED_WINDOW} minutes (messages wait and retry)",
            metric=app_metric("Unprocessed", service),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=UNPROCESSED_WINDOW,
            datapoints_to_alarm=UNPROCESSED_MINUTES,
        )
