"""The CDK app: one stack per stage. Synthesizes offline; no AWS account is needed.

    python infra/cdk_app.py --stage dev [--out infra/cdk.out]     (what `make synth` runs)
    cdk synth -c stage=prod                                   (the CDK CLI, from infra/)

Context (or flags): `stage` (dev, staging, prod), `deploy_id` (the commit being deployed:
makes every deploy run the migrations), `alarm_email` (subscribed to the alarm topic),
`app=false` (the data plane alone, for `chalice deploy --stage`: see scripts/chalice_stage.py),
`cloudtrail=organization` (the account is covered by an organisation trail: make none).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

# `stacks`, and the Chalice app (its authorizers); this file is not `app.py`, which names that app
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aws_cdk as cdk
from stacks.scheduler_stack import SchedulerStack
from stacks.stages import STAGES


def _flag(value: object) -> bool:
    return str(value).lower() not in ("false", "0", "no", "off")


def build(
    stage: str,
    outdir: str | None,
    deploy_id: str | None,
    alarm_email: str | None,
    with_app: bool = True,
    cloudtrail: str = "stack",
) -> cdk.App:
    app = cdk.App(outdir=outdir)
    with_app = _flag(
        app.node.try_get_context("app") if app.node.try_get_context("app") is not None else with_app
    )
    cloudtrail = app.node.try_get_context("cloudtrail") or cloudtrail
    if cloudtrail not in ("stack", "organization"):
        raise SystemExit(f"cloudtrail must be stack or organization, not {cloudtrail!r}")
    stage = app.node.try_get_context("stage") or stage
    if stage not in STAGES:
        raise SystemExit(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
    SchedulerStack(
        app,
        stage,
        config=STAGES[stage],
        deploy_id=app.node.try_get_context("deploy_id") or deploy_id,
        alarm_email=app.node.try_get_context("alarm_email") or alarm_email,
        with_app=with_app,
        organization_trail=cloudtrail == "organization",
        description=f"event-scheduler ({stage}): "
        + ("API, sweeper, worker, database, queues, alarms" if with_app else "data plane for chalice deploy"),
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument(
        "--out", default=None, help="cloud assembly directory (the CLI's CDK_OUTDIR otherwise)"
    )
    parser.add_argument("--deploy-id", default=None)
    parser.add_argument("--alarm-email", default=None)
    parser.add_argument("--data-plane", action="store_true", help="the data plane alone (chalice deploy)")
    parser.add_argument("--cloudtrail", choices=("stack", "organization"), default="stack")
    args = parser.parse_args(argv)
    out = str(Path(args.out).resolve()) if args.out else None
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice package wants a region
    # The Chalice construct packages into ./chalice.out; synth copies what it needs into the
    # cloud assembly, so that scratch space lives and dies in a temporary directory.
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="chalice-") as scratch:
        os.chdir(scratch)
        try:
            build(
                args.stage, out, args.deploy_id, args.alarm_email, not args.data_plane, args.cloudtrail
            ).synth()
        finally:
            os.chdir(home)


if __name__ == "__main__":
    main()
