"""The console's page and files as the app serves them (no browser: tests/e2e/test_console.py
drives one), and the vendored libraries checked against their manifest, offline."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from chalice.test import Client

from app import app
from chalicelib.api import console
from scripts import vendor_console


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data


@pytest.fixture(scope="module")
def client() -> Client:
    with Client(app) as test_client:
        yield test_client


def referenced(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="console/assets/([^"]+)"', page)


def test_the_page_is_served_without_a_token_with_the_policy_and_no_inline_code(client: Client) -> None:
    response = client.http.get("/console")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == console.CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in console.CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in console.CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    tags = Tags()
    tags.feed(response.body.decode())
    assert tags.script_text.strip() == ""  # every script is a file of the app's
    assert [a for _, a in tags.tags if "style" in a or any(k.startswith("on") for k in a)] == []
    assert [t for t, _ in tags.tags if t == "style"] == []
    assert all(a.get("src") for t, a in tags.tags if t == "script")


def test_each_file_the_page_and_its_modules_name_is_served_with_its_type_and_the_policy(
    client: Client,
) -> None:
    """The page's scripts and styles, and every module the console's modules import: each one
    exists, so no view is a 404 away from a blank page."""
    names = set(referenced(client.http.get("/console").body.decode()))
    queue = [n for n in names if n.endswith(".js")]
    while queue:
        text = (console.ASSETS / queue.pop()).read_text(encoding="utf-8")
        for imported in re.findall(r'from "\./([^"]+)"', text):
            if imported not in names:
                names.add(imported)
                queue.append(imported)
    assert {"console.js", "console.css", "preact-11.2.0.mjs", "htm-3.1.1.mjs"} <= names
    for name in names:
        response = client.http.get(f"/console/assets/{name}")
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == console.CONTENT_TYPES[Path(name).suffix]
        assert response.headers["Content-Security-Policy"] == console.CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.body.decode() == (console.ASSETS / name).read_text(encoding="utf-8")


def test_vendored_files_are_cached_for_good_and_the_consoles_own_revalidated(client: Client) -> None:
    assert client.http.get("/console/assets/preact-11.2.0.mjs").headers["Cache-Control"] == console.IMMUTABLE
    assert client.http.get("/console/assets/console.js").headers["Cache-Control"] == "no-cache"
    assert client.http.get("/console").headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("name", ["nope.js", "..%2Fvendor.json", "vendor.json", "%2E%2E"])
def test_a_name_that_is_not_an_asset_is_a_404_under_the_same_policy(client: Client, name: str) -> None:
    response = client.http.get(f"/console/assets/{name}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == console.CONTENT_SECURITY_POLICY


def test_the_consoles_own_code_never_builds_markup_from_strings() -> None:
    """Text is put in the page by Preact as text nodes; nothing of ours parses HTML, evaluates
    code or writes a style attribute (which the policy would refuse anyway)."""
    ours = [p for p in console.ASSETS.iterdir() if p.suffix == ".js" and p.name not in console.vendored()]
    assert len(ours) >= 8
    for path in ours:
        text = path.read_text(encoding="utf-8")
        for banned in (
            "innerHTML",
            "outerHTML",
            "dangerouslySetInnerHTML",
            "insertAdjacentHTML",
            "eval(",
            "new Function",
            "document.write",
            "style=",
        ):
            assert banned not in text, (path.name, banned)


def test_the_vendored_files_are_the_registrys_as_the_manifest_records() -> None:
    manifest = vendor_console.load()
    assert vendor_console.check(manifest) == []
    assert {p["name"]: p["version"] for p in manifest["packages"]} == {
        "preact": "11.2.0",
        "htm": "3.1.1",
        "uplot": "1.6.32",
    }
    for package in manifest["packages"]:
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", package["integrity"])
        assert all(name.startswith(f"{package['name']}-{package['version']}.") for name in package["files"])


def test_a_vendored_file_changed_or_missing_is_reported(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(console.ASSETS, assets)
    (assets / "htm-3.1.1.mjs").write_text("export default () => {};\n", encoding="utf-8")
    (assets / "uplot-1.6.32.min.css").unlink()
    problems = vendor_console.check(vendor_console.load(), assets)
    assert problems == [
        "htm-3.1.1.mjs: its sha512 is not the manifest's",
        "uplot-1.6.32.min.css: missing (uplot@1.6.32 package/dist/uPlot.min.css)",
    ]
