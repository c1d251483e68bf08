"""CloudTrail: every API call in the account, in a validated, encrypted, expiring log.

A multi-region trail with log-file validation (a digest file per hour proves no log was
altered or removed: `aws cloudtrail validate-logs`), written to a KMS-encrypted bucket that
refuses plain HTTP and public access, keeps versions, and expires logs after a year. An account
whose organisation already runs a trail passes `-c cloudtrail=organization`, and none is made.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

RETENTION_DAYS = 365


class AuditTrail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self, "Key", enable_key_rotation=True, description=f"event-scheduler {stage} CloudTrail"
        )
        self.bucket = s3.Bucket(
            self,
            "Logs",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,  # audit logs outlive the stack that made them
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=f"event-scheduler-{stage}",
            bucket=self.bucket,
            encryption_key=key,
            enable_file_validation=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            management_events=cloudtrail.ReadWriteType.ALL,
        )
