"""The console's front-end libraries: pinned in chalicelib/console/vendor.json, vendored as files.

    scripts/vendor_console.py              checks each vendored file against the manifest (offline)
    scripts/vendor_console.py --fetch      fetches each pinned tarball with npm, checks its sha512
                                           integrity and each file's, and writes the files
    scripts/vendor_console.py --fetch --update
                                           the same, recording the registry's integrity and the
                                           files' hashes (after a version is changed in the manifest)

Nothing is built: each file is the tarball's own, byte for byte, so the manifest's hashes can be
compared with the registry's (`npm view preact@11.2.0 dist.integrity`) and the files offline.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "chalicelib" / "console"
MANIFEST = CONSOLE / "vendor.json"
ASSETS = CONSOLE / "assets"


def sri(data: bytes) -> str:
    """A Subresource Integrity string, as npm records a tarball's: sha512-<base64>."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def load(manifest: Path = MANIFEST) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    return loaded


def check(manifest: dict[str, Any], assets: Path = ASSETS) -> list[str]:
    """What differs between the vendored files and the manifest: missing files, wrong hashes."""
    problems = []
    for package in manifest["packages"]:
        for name, entry in package["files"].items():
            path = assets / name
            if not path.is_file():
                problems.append(f"{name}: missing ({package['name']}@{package['version']} {entry['from']})")
            elif sri(path.read_bytes()) != entry["sha512"]:
                problems.append(f"{name}: its sha512 is not the manifest's")
    return problems


def fetch(manifest: dict[str, Any], assets: Path = ASSETS, *, update: bool = False) -> None:
    """Each package's tarball from the npm registry (npm pack), checked, its files written."""
    with tempfile.TemporaryDirectory(prefix="console-vendor-") as tmp:
        for package in manifest["packages"]:
            spec = f"{package['name']}@{package['version']}"
            packed = subprocess.run(
                ["npm", "pack", spec, "--json", "--pack-destination", tmp],
                check=True,
                capture_output=True,
                text=True,
            )
            [info] = json.loads(packed.stdout)
            tarball = Path(tmp) / info["filename"]
            integrity = sri(tarball.read_bytes())
            if integrity != info["integrity"]:
                raise SystemExit(f"{spec}: the tarball is not what the registry's integrity names")
            if update:
                package["integrity"] = integrity
            elif integrity != package["integrity"]:
                raise SystemExit(f"{spec}: the registry's integrity {integrity} is not the manifest's")
            with tarfile.open(tarball) as archive:
                for name, entry in package["files"].items():
                    member = archive.extractfile(entry["from"])
                    if member is None:
                        raise SystemExit(f"{spec}: {entry['from']} is not a file")
                    data = member.read()
                    if update:
                        entry["sha512"] = sri(data)
                    elif sri(data) != entry["sha512"]:
                        raise SystemExit(f"{spec}: {entry['from']}'s sha512 is not the manifest's")
                    (assets / name).write_bytes(data)
            print(f"{spec}  {integrity}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--fetch", action="store_true", help="fetch the pinned tarballs with npm")
    parser.add_argument("--update", action="store_true", help="with --fetch: record the hashes found")
    args = parser.parse_args()
    manifest = load()
    if args.fetch:
        fetch(manifest, update=args.update)
        if args.update:
            MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    problems = check(manifest)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
