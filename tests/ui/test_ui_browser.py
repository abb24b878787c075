"""The app in a real browser: Debian's chromium driven headless by Playwright against `streamlit run` on localhost.

Scenario: log in, ask a question, see the Plotly chart, download the CSV, edit the SQL into something forbidden and
see the guardrails' block message, then open the Monitoring and Decisions pages. Screenshots go to
artifacts/ui-screenshots/ (gitignored) so a person can look at the pages.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "ui-screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(ui_world, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free port, its settings pointed at the backfilled small world."""
    tmp = tmp_path_factory.mktemp("ui_server")
    port = _free_port()
    env = {**os.environ, "CREDIT_WAREHOUSE_REPLICA_PATH": str(ui_world.replica),
           "CREDIT_WAREHOUSE_PATH": str(tmp / "no-writer.duckdb"), "CREDIT_COPILOT_LOCAL_ENABLED": "false",
           "CREDIT_COPILOT_AUDIT_PATH": str(tmp / "audit.jsonl"),
           "CREDIT_CATALOG_VERIFIED_PATH": str(tmp / "verified.duckdb"),
           "CREDIT_CATALOG_CHROMA_PATH": str(tmp / "no-index"), "CREDIT_UI_USE_RETRIEVAL": "false",
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("CREDIT_COPILOT_OPENAI_BASE_URL", None)
    log = (tmp / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {(tmp / 'streamlit.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing: `make system-deps` (part of `make test`) installs it")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            accept_downloads=True, viewport={"width": 1400, "height": 1500})
        try:
            yield context.new_page()
        finally:
            context.close()


def test_log_in_ask_chart_download_and_blocked_edit(server: str, page, ui_world, tmp_path: Path) -> None:
    import duckdb
    from playwright.sync_api import expect

    with duckdb.connect(str(ui_world.replica), read_only=True) as con:
        decision_id = con.execute("SELECT min(decision_id) FROM decisions").fetchone()[0]

    page.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)  # a first answer loads the planner and the catalog: several seconds
    page.goto(server)
    page.get_by_role("textbox", name="User name").fill("ria")
    page.get_by_role("textbox", name="Password").fill("ria-dev")
    page.screenshot(path=SHOTS / "01-login.png")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Ask")).to_be_visible()

    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("approval rate by partner last 7 days")
    box.press("Enter")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.get_by_text("had the highest approval rate")).to_be_visible()
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "02-answer.png")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").first.click()
    csv = tmp_path / "result.csv"
    info.value.save_as(csv)
    lines = csv.read_text().strip().splitlines()
    assert "approval_rate" in lines[0] and len(lines) == 1 + 8  # header + one row per partner

    page.get_by_text("SQL — edit and run").first.click()
    sql = page.get_by_label("SQL", exact=True).first
    expect(sql).to_contain_text("SELECT")
    sql.fill("DELETE FROM decisions")
    sql.press("Control+Enter")  # commit the text area before pressing Run
    page.get_by_role("button", name="Run").first.click()
    expect(page.get_by_text("Blocked by the guardrails").first).to_be_visible()
    page.get_by_text("Blocked by the guardrails").first.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "03-blocked.png", full_page=True)

    page.get_by_role("link", name="Monitoring").click()
    expect(page.get_by_role("heading", name="Monitoring")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    page.screenshot(path=SHOTS / "04-monitoring.png", full_page=True)

    page.get_by_role("link", name="Decisions").click()
    expect(page.get_by_role("heading", name="Decisions")).to_be_visible()
    page.get_by_label("Decision ID").fill(decision_id)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_text("PII masked for team risk")).to_be_visible()
    page.screenshot(path=SHOTS / "05-decision.png", full_page=True)
    expect(page.get_by_text(f"Decision {decision_id}")).to_be_visible()
