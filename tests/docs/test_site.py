"""The docs site builds in strict mode (a broken link or anchor between pages fails it, and
the API reference renders from chalicelib/openapi.json), and the README's links land: each
file exists and each anchor is a heading of the page it names, as built."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.readme import README, ROOT, github_slug, links, ragged_rows


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return out


def ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))


def test_every_page_in_docs_is_built(site: Path) -> None:
    """(A page left out of mkdocs.yml's nav fails the strict build: omitted_files: warn.)"""
    for page in (ROOT / "docs").glob("*.md"):
        built = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert built.exists(), page.name


def test_the_api_reference_renders_every_operation_of_openapi_json(site: Path) -> None:
    import json

    document = json.loads((ROOT / "chalicelib" / "openapi.json").read_text(encoding="utf-8"))
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert "[OAD(" not in reference
    assert "??? " not in reference, "a collapsible block left as text: pymdownx.details is missing"
    for path, operations in document["paths"].items():
        for method in operations:
            if method in {"get", "put", "post", "patch", "delete"}:
                anchor = re.sub(r"[^\w-]", "", f"{method}-{path}".lower())
                assert f'id="{anchor}"' in reference, (method, path)
    for name in document["components"]["schemas"]:
        assert f'id="{name.lower()}"' in reference, name


def test_the_readme_links_land_on_a_file_and_a_heading(site: Path) -> None:
    markdown = README.read_text(encoding="utf-8")
    own = {github_slug(h) for h in re.findall(r"^#+ (.+)$", markdown, flags=re.M)}
    targets = [t for t in links(markdown) if not t.startswith(("http://", "https://"))]
    assert targets, "the README links to its docs"
    for target in targets:
        path, _, anchor = target.partition("#")
        if not path:
            assert anchor in own, target
            continue
        assert (ROOT / path).exists(), target
        if anchor:
            assert path.startswith("docs/"), target
            assert path.endswith(".md"), target
            stem = Path(path).stem
            page = site / "index.html" if stem == "index" else site / stem / "index.html"
            assert anchor in ids(page), target


def test_the_readme_is_a_front_door() -> None:
    """Issue 23: the README stays a pitch, the commands, one example and links."""
    assert len(README.read_bytes()) <= 15_000


def test_every_table_has_as_many_headers_as_columns() -> None:
    """(The README once had a table of 3 headers over 4 columns: GitHub shows such a row cut.)"""
    for page in [README, *(ROOT / "docs").glob("*.md")]:
        assert not ragged_rows(page.read_text(encoding="utf-8")), page.name
