"""The Prefect UI at the link `llmgenie run` prints, opened in a real (headless) Chromium.

The embedded server's UI must find its API on its own origin, not at Prefect's default
:4200: a decoy listens there when the port is free, and the page must never call it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.flows.conftest import EXAMPLE

pytestmark = pytest.mark.usefixtures("llmgenie_home", "prefect_api")

CHROMIUM = Path("/usr/bin/chromium")
#: What runs here as root, headless, with nothing reaching out (Playwright adds --headless).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AGENTS = ("devops", "security", "performance", "documentation")


def test_the_embedded_ui_asks_its_own_server_for_the_api() -> None:
    api = os.environ["PREFECT_API_URL"]
    ui = api.removesuffix("/api")
    settings = httpx.get(f"{ui}/ui-settings", timeout=10).json()

    assert str(httpx.URL(f"{ui}/").join(settings["api_url"])) == api


class _Decoy(BaseHTTPRequestHandler):
    """Another Prefect server on :4200, as on many a Prefect user's machine."""

    seen: list[str] = []

    def _answer(self) -> None:
        _Decoy.seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"[]")

    do_GET = do_POST = do_OPTIONS = _answer

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def decoy_on_4200() -> Iterator[list[str]]:
    """The requests a server on 127.0.0.1:4200 received (none is started if the port is taken:
    then whatever holds it plays the decoy, and the page's requests are checked anyway)."""
    _Decoy.seen = []
    try:
        server = ThreadingHTTPServer(("127.0.0.1", 4200), _Decoy)
    except OSError:
        yield _Decoy.seen
        return
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Decoy.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_the_printed_link_shows_the_run_its_steps_report_and_logs(
    tmp_path: Path, decoy_on_4200: list[str]
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")

    run = [sys.executable, "-m", "llmgenie", "run", "audit and document the shop service"]
    proc = subprocess.run(
        [*run, "--target", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    link = re.search(r"^prefect: (\S+)$", proc.stdout, re.MULTILINE)
    assert link, proc.stdout + proc.stderr
    task = re.search(r"^llmgenie · task (\w+)", proc.stdout, re.MULTILINE)
    assert task, proc.stdout
    origin = str(httpx.URL(link[1]).copy_with(path="/", query=None)).rstrip("/")

    calls: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            browser.set_default_timeout(60_000)
            page = browser.new_page()
            page.on("request", lambda request: calls.append(request.url))
            page.goto(link[1])

            page.get_by_text("boss: audit and document the shop service").first.wait_for()
            # the Logs tab, open by default: what BOSS analysed, planned and finished
            for line in ("target analysed: ", "plan decided: ", "task finished: "):
                page.get_by_text(line).first.wait_for()
            page.screenshot(path=tmp_path / "run.png", full_page=True)

            page.get_by_text("Subflow Runs", exact=True).first.click()
            for agent in AGENTS:
                page.get_by_text(f"{agent} · task {task[1][:8]}", exact=True).wait_for()

            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("llmgenie-task-report", exact=True).wait_for()
            page.get_by_text("llmgenie-task-findings", exact=True).wait_for()
            page.screenshot(path=tmp_path / "artifacts.png", full_page=True)

            page.get_by_text("Subflow Runs", exact=True).first.click()
            page.get_by_text(f"security · task {task[1][:8]}", exact=True).click()
            page.get_by_text("toolset finished: tool=security-toolset").wait_for()
            page.screenshot(path=tmp_path / "security.png", full_page=True)

            assert page.get_by_text(re.compile("Can't connect", re.IGNORECASE)).count() == 0
        finally:
            browser.close()

    assert decoy_on_4200 == []
    elsewhere = [u for u in calls if u.startswith("http") and not u.startswith(origin)]
    assert elsewhere == [], f"the page called other servers; screenshots in {tmp_path}"
