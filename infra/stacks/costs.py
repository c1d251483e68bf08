"""What the stage costs: a dashboard of estimated charges per service, and a monthly budget
that alerts the alarm topic at 80 % of actual spend and at 100 % forecast.

Billing metrics live in us-east-1 only, whatever the stack's region, and appear once the
account has "Receive Billing Alerts" turned on (Billing preferences). The budget covers the
account: one account per stage, as docs/deploy.md recommends, makes that the stage's spend.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

BILLING_REGION = "us-east-1"
# ServiceName values of AWS/Billing EstimatedCharges for what a stage runs (NAT gateways bill
# under Amazon EC2; alarms, dashboards and logs under CloudWatch).
SERVICES = (
    "AWSLambda",
    "AmazonRDS",
    "AmazonApiGateway",
    "AmazonEC2",
    "AmazonDynamoDB",
    "AWSQueueService",
    "AmazonCloudWatch",
    "AWSSecretsManager",
    "AWSCloudTrail",
    "AmazonS3",
    "AWSXRay",
    "awskms",
)


def _charges(service: str | None) -> cw.Metric:
    dimensions = {"Currency": "USD", **({"ServiceName": service} if service else {})}
    return cw.Metric(
        namespace="AWS/Billing",
        metric_name="EstimatedCharges",
        dimensions_map=dimensions,
        statistic="Maximum",
        period=Duration.hours(6),
        region=BILLING_REGION,
        label=service or "total",
    )


class Costs(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, monthly_usd: int, topic: sns.Topic
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"event-scheduler-{stage}-costs")
        self.dashboard.add_widgets(
            cw.SingleValueWidget(
                title="Estimated charges this month (USD)", metrics=[_charges(None)], width=6
            ),
            cw.GraphWidget(
                title="Estimated charges by service (USD, month to date)",
                left=[_charges(service) for service in SERVICES],
                width=18,
                height=8,
            ),
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )

        def notify(kind: str, percent: int) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
            return budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=[
                    budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
                ],
            )

        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"event-scheduler-{stage}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[notify("ACTUAL", 80), notify("FORECASTED", 100)],
        )
