"""No file in the repository cites a document that is not in the repository: the design brief
the project started from stays outside it, and every `docs/….md` a file names exists."""

from __future__ import annotations

import re
import subprocess

from tests.docs.readme import ROOT

OUTSIDE = "DESIGN" + ".md"  # spelled in two pieces, so that this file does not cite it
DOCS_PAGE = re.compile(r"\bdocs/([\w.-]+\.md)\b")


def files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if (ROOT / name).is_file()]


def text(name: str) -> str:
    try:
        return (ROOT / name).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


def test_no_file_cites_the_design_brief() -> None:
    citing = [name for name in files() if OUTSIDE.lower() in text(name).lower()]
    assert not citing


def test_every_docs_page_a_file_names_exists() -> None:
    missing = {
        (name, page)
        for name in files()
        for page in DOCS_PAGE.findall(text(name))
        if not (ROOT / "docs" / page).exists()
    }
    assert not missing
