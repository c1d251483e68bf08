"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, against one
`make run` stack (scripts/run_local.py in a subprocess) for the whole module.

The stack starts with its clock at 08:59:00 UTC today. Two users are created before 09:00, each
name, externalId, metadata, schedule payload and endpoint description an attack, and every
receiver answers with one in its body: at 09:00 Mallory's birthday goes to the built-in
endpoint and to "good" (COMPLETED), Trudy's anniversary to those and to "gone", which answers 410
(FAILED). A retry fails again and, with ENDPOINT_DISABLE_AFTER=0s, disables "gone". Then each
view and each action is used through the page, as a person would: by role and label, with the
keyboard where it matters; each test leaves a screenshot in build/console/.

After every test the page is asked whether anything ran that was written by a user or a
receiver (window.__xss, which each attack sets) and whether the Content-Security-Policy refused
anything (a securitypolicyviolation listener installed before the page's own scripts).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from scripts.devstack.aws import free_port
from scripts.devstack.paths import ROOT
from tests.e2e.test_local_stack import Stack
from tests.tokens import admin_token, bearer, token_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "console"
SCRIPT = "<script>window.__xss = 'script'</script>"
IMG = '"><img src=x onerror="window.__xss = \'img\'">'
HREF = "javascript:window.__xss = 'href'"
ATTACK = f"{SCRIPT} {IMG} {HREF}"
SECRET = "whsec_" + "Y29uc29sZSB0ZXN0cyBzaWduaW5nIGtleSBvZiAzMiBi"
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


class Receiver:
    """Every endpoint's receiver: /ok and /builtin answer 200, /gone 410, each with ATTACK."""

    def __init__(self) -> None:
        body = ATTACK.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(410 if self.path == "/gone" else 200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Seeded:
    api: str
    token: str
    mallory: dict[str, Any]
    trudy: dict[str, Any]
    completed: dict[str, Any]
    failed: dict[str, Any]
    schedule: dict[str, Any]
    audience: dict[str, Any]
    good: dict[str, Any]
    gone: dict[str, Any]


@dataclass
class Running:
    api: str
    stack: Stack
    receiver: str
    day: datetime
    """08:59:00 UTC on the stack's clock when it started."""


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make system-deps` installs it (as root)")
    receiver = Receiver()
    local = Path(tempfile.mkdtemp(prefix="event-scheduler-console-"))
    now = datetime.now(UTC)
    start = datetime.combine(now.date(), datetime.min.time(), UTC) + timedelta(hours=8, minutes=59)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "AWS_", "WEBHOOK_"))}
    env.update(
        LOCAL_DIR=str(local),
        API_PORT=str(port),
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        WEBHOOK_URL=f"{receiver.url}/builtin",
        WEBHOOK_SECRET=SECRET,
        SWEEP_EVERY="1",
        CLOCK_OFFSET=f"{int((start - now).total_seconds())}s",
        ENDPOINT_DISABLE_AFTER="0s",
    )
    env.pop("AUTH_MODE", None)
    stack = Stack(env, local / "stack.log")
    try:
        yield Running(f"http://127.0.0.1:{port}", stack, receiver.url, start)
    finally:
        assert stack.stop() == 0
        receiver.stop()
        shutil.rmtree(local, ignore_errors=True)


def user(first: str, last: str, external: str, day: datetime, *, birthday: bool) -> dict[str, Any]:
    """A user in UTC whose birthday (or anniversary) is `day`: due at 09:00 UTC that day."""
    month_day = f"{day:%m-%d}" if f"{day:%m-%d}" != "02-29" else "03-01"
    return {
        "firstName": first,
        "lastName": last,
        "externalId": external,
        "dateOfBirth": f"1990-{month_day}"
        if birthday
        else "1980-01-15"
        if month_day != "01-15"
        else "1980-01-16",
        "anniversaryDate": None if birthday else f"2015-{month_day}",
        "timezone": "UTC",
        "metadata": {"note": ATTACK, IMG: HREF, "tags": [SCRIPT]},
    }


@pytest.fixture(scope="module")
def seeded(running: Running) -> Seeded:
    auth = bearer(admin_token())

    def call(method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = requests.request(method, f"{running.api}{path}", json=body, headers=auth, timeout=10)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def endpoint(path: str, types: list[str] | None) -> dict[str, Any]:
        destination = {"type": "webhook", "url": f"{running.receiver}/{path}"}
        body = {"destination": destination, "eventTypes": types, "description": f"{path} {ATTACK}"}
        return dict(call("POST", "/endpoints", body, 201))

    good, gone = endpoint("ok", None), endpoint("gone", ["anniversary"])
    mallory = call("POST", "/user", user(SCRIPT, IMG, HREF, running.day, birthday=True), 201)
    trudy = call("POST", "/user", user(IMG, SCRIPT, f"{HREF} trudy", running.day, birthday=False), 201)
    created = datetime.fromisoformat(mallory["createdAt"].replace("Z", "+00:00"))
    assert created < running.day + timedelta(minutes=1), "the stack took over a minute to start"
    payload = {"note": ATTACK, IMG: HREF}
    schedule = call(
        "POST",
        f"/user/{mallory['id']}/schedules",
        {
            "eventType": "evil.digest",
            "payload": payload,
            "start": f"{running.day:%Y-%m-%d}",
            "time": "18:30",
            "timezone": "America/New_York",
            "recurrence": "FREQ=WEEKLY;BYDAY=MO,TH",
        },
        201,
    )
    audience = call(
        "POST",
        "/schedules",
        {
            "eventType": "evil.broadcast",
            "payload": payload,
            "start": f"{running.day:%Y-%m-%d}",
            "time": "23:45",
            "recurrence": "FREQ=DAILY",
            "audience": {"metadata": {"note": ATTACK}},
        },
        201,
    )

    def finished(user_id: str, status: str) -> dict[str, Any] | None:
        events = call("GET", f"/events?userId={user_id}&status={status}")["items"]
        return dict(events[0]) if events else None

    running.stack.wait_for(lambda: bool(finished(mallory["id"], "COMPLETED")), 150, "Mallory's birthday")
    running.stack.wait_for(lambda: bool(finished(trudy["id"], "FAILED")), 60, "Trudy's anniversary to fail")
    failed = finished(trudy["id"], "FAILED")
    assert failed is not None
    # A second refusal by "gone" disables it (ENDPOINT_DISABLE_AFTER=0s): the Enable button's case.
    call("POST", f"/events/{failed['id']}/retry", status=202)
    disabled = lambda: call("GET", f"/endpoints/{gone['id']}")["status"] == "disabled"  # noqa: E731
    running.stack.wait_for(disabled, 60, "the gone endpoint to be disabled")
    completed = finished(mallory["id"], "COMPLETED")
    assert completed is not None
    token = admin_token()
    return Seeded(running.api, token, mallory, trudy, completed, failed, schedule, audience, good, gone)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@dataclass
class Console:
    """One tab on the seeded stack, signed in, watched for anything that should not run."""

    page: Page
    api: str
    requests: list[Request]

    def go(self, route: str) -> Page:
        self.page.goto(f"{self.api}/console{route}")
        self.page.get_by_role("heading", level=1).wait_for()
        return self.page

    def loaded(self) -> None:
        expect(self.page.get_by_text("Loading…")).to_have_count(0)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def assert_nothing_ran(self) -> None:
        assert self.page.evaluate("window.__xss") is None
        assert self.page.evaluate("window.__violations") == []
        # An <img src=x> would have been asked for: nothing but the app's own files and the API.
        assert not [r.url for r in self.requests if r.url.endswith("/x")]

    def assert_every_control_is_labelled(self) -> None:
        unlabelled = self.page.evaluate(
            """() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
                .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                                && !el.textContent.trim())
                .map((el) => el.outerHTML)"""
        )
        assert unlabelled == []


@pytest.fixture
def console(browser: Browser, seeded: Seeded) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH)
    page = context.new_page()
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))
    page.goto(f"{seeded.api}/console#token={seeded.token}")
    expect(page).to_have_url(re.compile(r"/console#/overview$"))
    tab = Console(page, seeded.api, seen)
    yield tab
    tab.assert_nothing_ran()
    context.close()


def test_every_console_answer_carries_the_policy_and_the_page_has_no_inline_script_or_style(
    seeded: Seeded,
) -> None:
    page = requests.get(f"{seeded.api}/console", timeout=10)
    names = re.findall(r'(?:src|href)="console/assets/([^"]+)"', page.text)
    assert len(names) == 4
    for response in [page, *(requests.get(f"{seeded.api}/console/assets/{n}", timeout=10) for n in names)]:
        assert response.status_code == 200
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in page.text  # every script has a src
    assert "style=" not in page.text


def test_the_link_make_run_prints_signs_in_and_the_token_leaves_the_url(console: Console) -> None:
    page = console.page
    assert "token" not in page.evaluate("location.href")
    stored = page.evaluate("sessionStorage.getItem('event-scheduler.console.token')")
    assert stored.count(".") == 2  # the JWT, moved from the fragment
    api_calls = [r for r in console.requests if "/console" not in r.url]
    assert api_calls
    for call in api_calls:
        assert call.headers["authorization"] == f"Bearer {stored}"
        assert stored not in call.url


def test_signing_in_with_the_form_and_out_again(browser: Browser, seeded: Seeded) -> None:
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    page.goto(f"{seeded.api}/console#/events")
    token = page.get_by_label("Token (admin or service)")
    token.fill("not-a-token")
    token.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("refused")
    page.get_by_label("Token (admin or service)").fill(token_for("service", "console-test"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Events")
    # A service token may not manage endpoints or retry: the page does not offer them.
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    expect(page.get_by_role("link", name="Endpoints")).to_have_count(0)
    page.goto(f"{seeded.api}/console#/events/{seeded.failed['id']}")
    expect(page.get_by_role("heading", name="Attempts")).to_be_visible()
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token (admin or service)")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    assert page.evaluate("window.__violations") == []
    context.close()


def test_the_overview_charts_what_is_due_and_what_finished(console: Console, seeded: Seeded) -> None:
    page = console.go("#/overview")
    console.loaded()
    expect(page.locator("figure canvas")).to_have_count(2)
    overview = requests.get(f"{seeded.api}/overview", headers=bearer(seeded.token), timeout=10).json()
    due = sum(hour["count"] for hour in overview["due"])
    completed = sum(hour["completed"] for hour in overview["delivered"])
    assert completed >= 1  # Mallory's birthday
    expect(page.locator("figcaption").nth(0)).to_have_text(f"Due, next 24 hours: due {due}")
    expect(page.locator("figcaption").nth(1)).to_contain_text(f"completed {completed}, failed ")
    for tile in ("Lateness p50", "Lateness p99", "Queue depth", "Dead-letter queue", "Last sweep"):
        expect(page.get_by_text(tile, exact=True)).to_be_visible()
    console.assert_every_control_is_labelled()
    console.shot("overview")
    page.get_by_text("The numbers per hour").first.click()
    expect(page.locator("details[open] tbody tr")).to_have_count(24)


def test_events_are_searched_with_every_filter_from_the_keyboard(console: Console, seeded: Seeded) -> None:
    page = console.go("#/events")
    console.loaded()
    page.get_by_label("Status").select_option("FAILED")
    page.get_by_label("Event type").fill("anniversary")
    page.get_by_label("User id").fill(seeded.trudy["id"])
    page.get_by_label("Due from").fill(f"{seeded.failed['targetUtc'][:10]}")
    page.get_by_label("Due before").fill("2999-01-01")
    page.get_by_label("Late").select_option("false")
    page.get_by_label("Per page").fill("5")
    page.get_by_label("Per page").press("Enter")
    expect(page).to_have_url(re.compile(r"#/events\?status=FAILED&eventType=anniversary&userId="))
    console.loaded()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("FAILED")
    console.assert_every_control_is_labelled()
    console.shot("events")
    page.goto(f"{seeded.api}/console#/events?scheduleId={seeded.schedule['id']}")
    console.loaded()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("evil.digest")  # its pending occurrence
    # A new view puts the keyboard on its heading; Tab goes on to the search form.
    page.goto(f"{seeded.api}/console#/events")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Status")).to_be_focused()


def test_a_failed_event_shows_each_attempt_per_endpoint_and_retries(console: Console, seeded: Seeded) -> None:
    page = console.go(f"#/events/{seeded.failed['id']}")
    console.loaded()
    expect(page.get_by_role("heading", name="Attempts")).to_be_visible()
    gone = page.get_by_role("region", name=f"Attempts to {seeded.gone['id']}")
    expect(gone.locator("tbody tr").first).to_contain_text("410")
    expect(gone.locator("pre").first).to_have_text(ATTACK)  # the receiver's body, as text
    expect(page.get_by_role("region", name="Attempts to the built-in endpoint")).to_contain_text("200")
    expect(page.get_by_role("link", name=f"{IMG} {SCRIPT}")).to_be_visible()  # the user, by name
    expect(page.locator("pre[aria-label='user metadata']")).to_contain_text(HREF)
    console.assert_every_control_is_labelled()
    console.shot("event-failed")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status").filter(has_text="Retrying")).to_be_visible()


def test_a_delivered_event_is_replayed_to_an_endpoint(console: Console, seeded: Seeded) -> None:
    page = console.go(f"#/events/{seeded.completed['id']}")
    console.loaded()
    good = page.get_by_role("region", name=f"Attempts to {seeded.good['id']}")
    expect(good.locator("pre").first).to_have_text(ATTACK)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.locator("pre[aria-label='schedule payload']")).to_have_count(0)  # a birthday: no schedule
    console.shot("event-delivered")
    good.get_by_role("button", name="Replay to this endpoint").click()
    expect(good.get_by_role("status")).to_have_text("Queued 1.")


def test_a_user_is_found_by_external_id_or_id_with_their_schedules_next_ten(
    console: Console, seeded: Seeded
) -> None:
    page = console.go("#/users")
    console.loaded()
    page.get_by_label("User id or externalId").fill(HREF)
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"#/users\?q=javascript"))
    console.loaded()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"{SCRIPT} {IMG}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"User {seeded.mallory['id']}")
    console.loaded()
    schedule = page.get_by_role("region", name="Schedule evil.digest")
    expect(schedule.locator("tbody tr")).to_have_count(10)
    first = schedule.locator("tbody tr").first
    expect(first).to_contain_text("T18:30:00-0")  # New York's wall time with its offset
    expect(first).to_contain_text(":30:00Z")  # and the instant in UTC
    expect(schedule.locator("pre")).to_contain_text(SCRIPT)  # the payload, as JSON text
    console.assert_every_control_is_labelled()
    console.shot("user")
    page.goto(f"{seeded.api}/console#/users?q={seeded.trudy['id']}")
    console.loaded()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list")).to_contain_text(f"{HREF} trudy")


def test_schedules_are_listed_previewed_paused_and_resumed_with_a_catch_up(
    console: Console, seeded: Seeded
) -> None:
    page = console.go("#/schedules")
    console.loaded()
    expect(page.locator("table.list tbody tr")).to_have_count(2)
    page.get_by_label("Kind").select_option("true")
    page.get_by_role("button", name="Search").click()
    console.loaded()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    console.shot("schedules")
    page.get_by_role("link", name="evil.broadcast").click()
    console.loaded()
    audience = page.get_by_role("region", name=re.compile("^Audience on"))
    expect(audience).to_contain_text("2")  # both users' metadata contains the audience's
    console.shot("schedule-audience")
    later = f"{datetime.fromisoformat(seeded.audience['createdAt'][:10]) + timedelta(days=3):%Y-%m-%d}"
    audience.get_by_label("Local date").fill(later)
    audience.get_by_role("button", name="Count").click()
    expect(page.get_by_role("region", name=f"Audience on {later}")).to_be_visible()
    page = console.go(f"#/schedules/{seeded.schedule['id']}")
    console.loaded()
    preview = page.get_by_role("region", name="Preview")
    expect(preview.locator("tbody tr")).to_have_count(10)
    preview.get_by_label("How many").fill("3")
    preview.get_by_label("How many").press("Enter")
    console.loaded()
    expect(page.get_by_role("region", name="Preview").locator("tbody tr")).to_have_count(3)
    console.assert_every_control_is_labelled()
    console.shot("schedule")
    state = page.get_by_role("region", name="Pause or resume")
    state.get_by_role("button", name="Pause").click()
    expect(state.get_by_label("Occurrences missed while paused")).to_be_visible()
    assert seeded_status(seeded, seeded.schedule["id"]) == "paused"
    state.get_by_label("Occurrences missed while paused").select_option("latest")
    state.get_by_role("button", name="Resume").click()
    expect(state.get_by_role("button", name="Pause")).to_be_visible()
    assert seeded_status(seeded, seeded.schedule["id"]) == "active"


def seeded_status(seeded: Seeded, schedule_id: str) -> str:
    response = requests.get(f"{seeded.api}/schedules/{schedule_id}", headers=bearer(seeded.token), timeout=10)
    return str(response.json()["status"])


def test_endpoints_show_their_state_and_are_enabled_recovered_and_rotated(
    console: Console, seeded: Seeded
) -> None:
    page = console.go("#/endpoints")
    console.loaded()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    gone = rows.filter(has_text="gone")
    expect(gone).to_contain_text("disabled")
    expect(gone).to_contain_text("HTTP 410")
    ok = rows.filter(has=page.get_by_role("link", name=re.compile("^ok ")))
    expect(ok).to_contain_text("enabled")
    expect(ok).to_contain_text("100.0 %")
    console.shot("endpoints")
    gone.get_by_role("link").click()
    console.loaded()
    console.assert_every_control_is_labelled()
    console.shot("endpoint")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status").filter(has_text="Now enabled")).to_be_visible()
    recover = page.get_by_role("form", name="Recover failed and held deliveries")
    recover.get_by_role("button", name="Recover").click()
    expect(recover.get_by_role("status")).to_have_text(re.compile(r"^Queued \d+\.$"))
    rotate = page.get_by_role("form", name="Rotate the signing secret")
    rotate.get_by_label("Old secret's grace (seconds)").fill("60")
    rotate.get_by_role("button", name="Rotate the secret").click()
    expect(rotate.get_by_role("status")).to_contain_text("the new secret signs from now")
    page.get_by_role("button", name="Show the secrets").click()
    expect(page.locator(".secrets li")).to_have_count(2)
