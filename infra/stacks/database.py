"""PostgreSQL 16 on RDS behind RDS Proxy.

Encrypted, in isolated subnets, never public, TLS required, 7-day automated backups,
Multi-AZ where the stage says so. The functions connect to the proxy only: hundreds of Lambda
containers share a small pool of server connections instead of exhausting max_connections.

Two logins, each in its own generated secret, both served by the proxy: the master user, for
the migrations alone, and the application role (`scheduler_app`), which the API, sweeper and
worker use. The migrate step creates that role and its grants (chalicelib/adapters/db_roles.py).
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from stacks.stages import StageConfig

DATABASE_NAME = "event_scheduler"
PORT = 5432
APP_USER = "scheduler_app"
# A minor version RDS creates today (cfn-lint's RDS data lists it as current, not deprecated);
# auto minor upgrades move it on, and CloudFormation ignores a version below the running one.
ENGINE_VERSION = rds.PostgresEngineVersion.of("16.15", "16")


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        clients: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        engine = rds.DatabaseInstanceEngine.postgres(version=ENGINE_VERSION)
        instance_sg = ec2.SecurityGroup(self, "InstanceSg", vpc=vpc, allow_all_outbound=False)
        proxy_sg = ec2.SecurityGroup(self, "ProxySg", vpc=vpc, allow_all_outbound=False)
        proxy_sg.add_ingress_rule(clients, ec2.Port.tcp(PORT), "functions to the proxy")
        proxy_sg.add_egress_rule(instance_sg, ec2.Port.tcp(PORT), "proxy to the instance")
        instance_sg.add_ingress_rule(proxy_sg, ec2.Port.tcp(PORT), "proxy to the instance")

        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(config.db_instance_class),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[instance_sg],
            publicly_accessible=False,
            storage_encrypted=True,
            multi_az=config.multi_az,
            allocated_storage=config.db_storage_gb,
            max_allocated_storage=config.db_max_storage_gb,
            storage_type=rds.StorageType.GP3,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                "scheduler", secret_name=f"event-scheduler/{config.name}/database"
            ),
            parameter_group=rds.ParameterGroup(
                self, "Parameters", engine=engine, parameters={"rds.force_ssl": "1"}
            ),
            backup_retention=Duration.days(7),
            preferred_backup_window="03:00-03:30",
            auto_minor_version_upgrade=True,
            deletion_protection=config.keep_data,
            removal_policy=RemovalPolicy.SNAPSHOT if config.keep_data else RemovalPolicy.DESTROY,
            enable_performance_insights=not config.db_instance_class.startswith(
                "t4g"
            ),  # not on small burstables
        )
        secret = self.instance.secret
        assert secret is not None  # from_generated_secret always makes one
        self.secret = secret
        """The master user's: the migrate function alone reads it."""
        self.app_secret = secretsmanager.Secret(
            self,
            "AppUser",
            secret_name=f"event-scheduler/{config.name}/database-app",
            description="The application role the API, sweeper and worker log in as",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(
                    {"username": APP_USER, "dbname": DATABASE_NAME, "port": PORT, "engine": "postgres"}
                ),
                generate_string_key="password",
                password_length=40,
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.RETAIN if config.keep_data else RemovalPolicy.DESTROY,
        )
        self.proxy = self.instance.add_proxy(
            "Proxy",
            db_proxy_name=f"event-scheduler-{config.name}",  # unique per stage within an account
            secrets=[secret, self.app_secret],
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[proxy_sg],
            require_tls=True,
            idle_client_timeout=Duration.minutes(30),
            max_connections_percent=90,
        )

    @property
    def proxy_target_group(self) -> IConstruct:
        """What makes the proxy usable: the migrations must wait for it, not just the proxy."""
        return self.proxy.node.find_child("ProxyTargetGroup")
