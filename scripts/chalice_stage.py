"""Points a stage's Chalice config at its CDK data plane, for `chalice deploy --stage STAGE`.

    make deploy STAGE=dev DATA_PLANE=1 WEBHOOK_URL=...    # event-scheduler-dev-data (once)
    .venv/bin/python scripts/chalice_stage.py --stage dev [--outputs build/outputs-dev-data.json]
    .venv/bin/chalice deploy --stage dev                  # the app alone, on that data plane
    echo '{"RequestType": "Update"}' | .venv/bin/chalice invoke --stage dev --name migrate
    .venv/bin/chalice delete --stage dev                  # the app alone goes

Writes into `.chalice/config.json`, stage STAGE, per function: the role the data plane made for
it (`iam_role_arn`, `manage_iam_role: false`), the private subnets and security group (the
functions that reach the database), its environment (the secrets' ARNs, the proxy, the queues,
the ledger) and its `layers` (the AWS Parameters and Secrets Lambda Extension, for those that
read secrets when they start). The outputs come from `cdk deploy --outputs-file` or, without --outputs,
from CloudFormation. The CDK's own path (`make synth`) ignores the roles and subnets written
here (stacks/chalice_app.CDK_OVERRIDES). Don't commit the result: it names one account's ARNs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"
FUNCTIONS = {
    "api_handler": "APIHandler",
    "sweep": "Sweep",
    "deliver": "Deliver",
    "migrate": "Migrate",
    "jwt_auth": "JwtAuth",
}
IN_VPC = ("api_handler", "sweep", "deliver", "migrate")


def stack_name(stage: str) -> str:
    return f"event-scheduler-{stage}-data"


def outputs_from_file(path: Path, stage: str) -> dict[str, str]:
    data: dict[str, dict[str, str]] = json.loads(path.read_text())
    return data[stack_name(stage)]


def outputs_from_cloudformation(stage: str) -> dict[str, str]:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def apply(config: dict[str, Any], stage: str, outputs: dict[str, str]) -> dict[str, Any]:
    """`config` with the stage pointed at the data plane's outputs (a new dict)."""
    result = json.loads(json.dumps(config))
    functions = result["stages"][stage].setdefault("lambda_functions", {})
    subnets = [s for s in outputs["FunctionSubnetIds"].split(",") if s]
    for name, logical_id in FUNCTIONS.items():
        layer = functions.setdefault(name, {})
        layer["manage_iam_role"] = False
        layer["iam_role_arn"] = outputs[f"{logical_id}RoleArn"]
        layer["environment_variables"] = {
            **layer.get("environment_variables", {}),
            **json.loads(outputs[f"{logical_id}Environment"]),
        }
        layers = [arn for arn in outputs.get(f"{logical_id}Layers", "").split(",") if arn]
        if layers:  # the secrets extension's, for the functions that read secrets when they start
            layer["layers"] = layers
        else:
            layer.pop("layers", None)
        if name in IN_VPC:
            layer["subnet_ids"] = subnets
            layer["security_group_ids"] = [outputs["FunctionSecurityGroupId"]]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--outputs", type=Path, default=None, help="cdk deploy --outputs-file JSON")
    parser.add_argument("--config", type=Path, default=CONFIG)
    args = parser.parse_args(argv)
    outputs = (
        outputs_from_file(args.outputs, args.stage)
        if args.outputs
        else outputs_from_cloudformation(args.stage)
    )
    config = json.loads(args.config.read_text())
    args.config.write_text(json.dumps(apply(config, args.stage, outputs), indent=2) + "\n")
    print(f"{args.config}: stage {args.stage} now deploys onto {stack_name(args.stage)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
