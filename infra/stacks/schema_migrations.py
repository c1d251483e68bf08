"""Schema migrations on every deploy, before the new code.

A custom resource, served by the CDK's provider framework, invokes the app's `migrate`
function (chalicelib/deploy.py). Its properties carry a digest of the migration files and
the deploy's id, so each deploy runs it; the functions that serve traffic depend on it, so
new code only goes live on a migrated schema, and a failed migration fails the deploy (the
stack rolls back; the migration ran in a transaction, so nothing is half applied).
"""

from __future__ import annotations

import hashlib

from aws_cdk import CustomResource
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.stages import ROOT

MIGRATIONS_DIR = ROOT / "chalicelib" / "sql" / "migrations"


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class SchemaMigrations(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, migrator: lambda_.IFunction, deploy_id: str
    ) -> None:
        super().__init__(scope, construct_id)
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=migrator,
            log_group=logs.LogGroup(self, "ProviderLogs", retention=logs.RetentionDays.ONE_WEEK),
        )
        self.resource = CustomResource(
            self,
            "Schema",
            service_token=provider.service_token,
            resource_type="Custom::SchemaMigrations",
            properties={"MigrationsDigest": migrations_digest(), "DeployId": deploy_id},
        )
