"""Browser fixtures: the test's own app served on a free port, driven by Debian's headless Chromium."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("EDMS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Chromium not found: install Debian's `chromium` package (the test command does)")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="en-US", accept_downloads=True)
    # Generous: on a loaded 2-core CI machine one step of a case walk (a submit rendering its PDF) took over 15 s.
    context.set_default_timeout(30000)
    page = context.new_page()
    yield page
    context.close()


def browser_sign_in(page, username: str, password: str):
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in")


def choose_language(page, code: str):
    """The header's language select submits itself from edms.js once the page has loaded; returns once the page
    it leads to is in that language (its html lang), so the next step starts from the language chosen."""
    from playwright.sync_api import expect

    page.wait_for_load_state("load")
    with page.expect_navigation():
        page.select_option("#language-select", code)
    expect(page.locator("html")).to_have_attribute("lang", code)


@pytest.fixture
def job_worker(app):
    """The server's background job thread, as `edms serve` runs it with SQLite (the tests' app runs none)."""
    from edms.application.worker import start_thread

    thread, stop = start_thread(app.extensions["edms"])
    yield thread
    stop.set()
    thread.join(timeout=300)
