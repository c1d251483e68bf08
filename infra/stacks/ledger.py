"""The delivery ledger: every attempt, kept until its TTL; on demand, with point-in-time recovery."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

PARTITION_KEY = "pk"
SORT_KEY = "sk"
BY_ENDPOINT = "by_endpoint"  # the ledger model's index (chalicelib/adapters/ledger.py)
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; the ledger model must write this attribute


class Ledger(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, keep: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN if keep else RemovalPolicy.DESTROY,
        )
        # Sparse: only attempts to an endpoint carry endpoint_key (GET /endpoints/{id}/stats).
        self.table.add_global_secondary_index(
            index_name=BY_ENDPOINT,
            partition_key=dynamodb.Attribute(name="endpoint_key", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="attempted_at", type=dynamodb.AttributeType.STRING),
        )
