"""The Lambda deployment package: `chalice package`, then made lean, precompiled and reproducible.

    scripts/build_package.py --stage prod --out build/package/prod [--with-sdk]

Writes what `chalice package` writes (`sam.json`, `deployment.zip`), the template mended where
Chalice 1.34 gets it wrong (`mend_template`) and the zip rebuilt:
- nothing from a working tree's caches (`__pycache__`, `.pyc`) goes in;
- boto3, botocore, s3transfer (and python-dateutil and six, which only botocore needs) are
  left out: the Lambda Python 3.11 runtime provides them (`--with-sdk` keeps them); so is
  Powertools' event handler (`UNUSED`), an API router this app, routed by Chalice, never loads;
- the `version.py` of psycopg, psycopg_binary and psycopg_pool, each of which reads its
  distribution's metadata on every import (a scan of sys.path, ~5 ms), becomes the literal
  version it would have read;
- every module is compiled with `--invalidation-mode unchecked-hash`: Lambda's code folder is
  read-only and the zip's fixed timestamps would make timestamp-checked `.pyc` stale, so the
  interpreter uses these without looking at the source (the code never changes in place);
- entries sorted, timestamps fixed at 1980-01-01, permissions 0644 (0755 for what was
  executable), the same compression: two builds of one commit give byte-identical zips.

The CDK app calls `build()` too (infra/stacks/chalice_app.py), so what `make synth` and
`make deploy` upload is this package. Only cloud stages are packaged: `local` is for
`chalice local` (its tokens may be signed with the published local secret).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_PYTHON = (3, 11)
# What the Lambda Python runtime ships and this code can take from it (top-level names in the
# zip): the SDK and what only botocore needs (python-dateutil, and six for dateutil). pynamodb
# needs only botocore (>=1.12); Powertools' Logger and Metrics need neither. jmespath
# (Powertools) and urllib3 (requests) stay in the bundle: small, and pinned by what we ship.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "python_dateutil", "six")
# Parts of what ships that nothing here imports: Powertools' event handler (its REST router and
# OpenAPI models, 0.7 MB of the zip) — the app uses Powertools' Logger and Metrics only.
UNUSED = ("aws_lambda_powertools/event_handler/",)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
LAMBDA_CODE_DIR = "/var/task"  # the path compiled into each .pyc's co_filename (tracebacks)
# Packages whose version.py asks importlib.metadata for their own version (package = distribution).
VERSION_FROM_METADATA = ("psycopg", "psycopg_binary", "psycopg_pool")
LOCAL_STAGE = "local"


def build(
    project_dir: Path,
    out_dir: Path,
    stage: str,
    *,
    with_sdk: bool = False,
    chalice_config: Mapping[str, Any] | None = None,
) -> Path:
    """Packages the app for `stage` into `out_dir` (sam.json, deployment.zip); returns the zip.
    `chalice_config` overrides every layer of .chalice/config.json (the CDK's stage_config)."""
    with tempfile.TemporaryDirectory(prefix="chalice-package-") as tmp:
        raw = Path(tmp) / "raw"
        _package(project_dir, raw, stage, chalice_config or {})
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(raw / "sam.json", out_dir / "sam.json")
        tree = Path(tmp) / "tree"
        modes = _extract(raw / "deployment.zip", tree, () if with_sdk else RUNTIME_PROVIDED)
        for package in VERSION_FROM_METADATA:
            _pin_version(tree, package)
        _compile(tree)
        target = out_dir / "deployment.zip"
        _write_zip(tree, target, modes)
    return target


def write_template(
    project_dir: Path, out_dir: Path, stage: str, *, chalice_config: Mapping[str, Any] | None = None
) -> Path:
    """Only the `sam.json` that `build()` writes, without rebuilding the zip (a second, not ten)."""
    with tempfile.TemporaryDirectory(prefix="chalice-package-") as tmp:
        _package(project_dir, Path(tmp), stage, chalice_config or {})
        out_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(Path(tmp) / "sam.json", out_dir / "sam.json"))


def mend_template(template: dict[str, Any]) -> None:
    """Chalice 1.34 names the API handler's log group after `ApiHandler`, the function's logical
    ID before it renames it `APIHandler`: CloudFormation refuses the dangling reference
    ("Unresolved resource dependencies [ApiHandler]"; aws/chalice#2079). Points it at the function."""
    resources = template["Resources"]
    group = resources.get("ApiHandlerLogGroup")
    if group is not None and "ApiHandler" not in resources and "APIHandler" in resources:
        group["Properties"]["LogGroupName"] = {"Fn::Sub": "/aws/lambda/${APIHandler}"}


def _package(project_dir: Path, out: Path, stage: str, chalice_config: Mapping[str, Any]) -> None:
    """`chalice package` into `out` (sam.json, deployment.zip), its template mended."""
    if sys.version_info[:2] != LAMBDA_PYTHON:
        # Chalice takes the functions' runtime from this interpreter, and .pyc are per version.
        raise SystemExit(f"build with Python {'.'.join(map(str, LAMBDA_PYTHON))}: the Lambda runtime's")
    if stage == LOCAL_STAGE:
        raise SystemExit(
            f"the {LOCAL_STAGE!r} stage is for `chalice local` only: package dev, staging or prod"
        )
    _chalice_package(project_dir, out, stage, chalice_config)
    path = out / "sam.json"
    template = json.loads(path.read_text())
    mend_template(template)
    path.write_text(json.dumps(template, indent=2) + "\n")  # Chalice's own layout


_PACKAGE = (
    "import json, sys; from chalice.api import package_app;"
    " package_app(*sys.argv[1:4], json.loads(sys.argv[4]))"
)
"""`chalice package --stage S OUT`, with the overrides the CLI cannot take (Chalice's own API)."""


def _chalice_package(project_dir: Path, out: Path, stage: str, chalice_config: Mapping[str, Any]) -> None:
    # A subprocess: Chalice imports app.py to package it, and a caller (the CDK app) may have
    # imported another copy already. No .pyc written into the working tree either.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    subprocess.run(
        [sys.executable, "-c", _PACKAGE, str(project_dir), str(out), stage, json.dumps(dict(chalice_config))],
        cwd=project_dir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _top_level(name: str) -> str:
    """`botocore-1.44.8.dist-info/RECORD` → `botocore`; `six.py` → `six`."""
    first = name.split("/", 1)[0]
    first = re.sub(r"-[^-]+\.(dist|egg)-info$", "", first)
    return first.removesuffix(".py").replace("-", "_").lower()


def _extract(archive: Path, tree: Path, leave_out: tuple[str, ...]) -> dict[str, int]:
    """Unpacks what ships into `tree`; returns each file's mode (executable or not)."""
    modes: dict[str, int] = {}
    with zipfile.ZipFile(archive) as source:
        for info in source.infolist():
            name = info.filename
            if info.is_dir() or "__pycache__/" in name or name.endswith((".pyc", ".pyo")):
                continue
            if _top_level(name) in leave_out or name.startswith(UNUSED):
                continue
            path = tree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read(info))
            executable = (info.external_attr >> 16) & 0o111
            modes[name] = 0o755 if executable else 0o644
    return modes


def _pin_version(tree: Path, package: str) -> None:
    version_file = tree / package / "version.py"
    records = sorted(tree.glob(f"{package}-*.dist-info/METADATA"))
    if not version_file.exists() or not records:
        return
    match = re.search(r"^Version: (\S+)$", records[0].read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no Version in {records[0]}")
    version_file.write_text(
        f'"""{package} distribution version (written by scripts/build_package.py: the\n'
        'original reads importlib.metadata on every import)."""\n\n'
        f'__version__ = "{match.group(1)}"\n'
    )


def _compile(tree: Path) -> None:
    # A fresh interpreter with a fixed hash seed: frozenset constants are marshalled in hash
    # order, so a random seed would make two builds' .pyc differ.
    code = (
        "import compileall, py_compile, sys\n"
        "ok = compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=2, workers=1,\n"
        "    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
        "sys.exit(0 if ok else 1)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # Some vendored files are Python 2 or templates; compileall reports them and goes on.
    subprocess.run(
        [sys.executable, "-c", code, str(tree), LAMBDA_CODE_DIR],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )


def _write_zip(tree: Path, target: Path, modes: dict[str, int]) -> None:
    files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in files:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits are read
            info.external_attr = (0o100000 | modes.get(name, 0o644)) << 16
            archive.writestr(info, (tree / name).read_bytes(), compresslevel=9)
    partial.replace(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--with-sdk", action="store_true", help="keep boto3, botocore and their dependencies")
    args = parser.parse_args()
    target = build(ROOT, args.out, args.stage, with_sdk=args.with_sdk)
    print(f"{target} {target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
