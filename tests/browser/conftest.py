"""Browser tests: a live hitrack on loopback, driven by Playwright in headless Chromium.

Chromium is Debian's ``/usr/bin/chromium`` (``HITRACK_CHROMIUM`` to override);
Playwright never downloads a browser. Without it the tests skip locally;
with ``HITRACK_REQUIRE_BROWSER=1`` (CI) its absence fails the run. A failing
test leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from hitrack.db.migrate import upgrade
from hitrack.db.session import make_engine
from hitrack.settings import Settings
from hitrack.web import create_app

CHROMIUM = os.environ.get("HITRACK_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("HITRACK_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class LiveServer:
    url: str
    app: Flask
    settings: Settings


def start_live_server(settings: Settings) -> tuple[LiveServer, Callable[[], None]]:
    from waitress import create_server

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(settings.database_url))
    app = create_app(settings)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    port = server.effective_port  # type: ignore[union-attr]

    def stop() -> None:
        server.close()
        thread.join(timeout=5)
        app.extensions["hitrack"].engine.dispose()

    return LiveServer(f"http://127.0.0.1:{port}", app, settings), stop


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    """Override in a test module (or use dataclasses.replace) to change a setting."""
    return Settings(
        data_dir=tmp_path / "instance",
        environment="test",
        secret_key="browser-secret",
        max_upload_bytes=5_000_000,
    )


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[LiveServer]:
    server, stop = start_live_server(live_settings)
    yield server
    stop()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if REQUIRE_BROWSER:
            pytest.fail(f"HITRACK_REQUIRE_BROWSER=1 but there is no browser at {CHROMIUM}")
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()
    playwright.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def new_page(browser):  # type: ignore[no-untyped-def]
    """Open extra pages, each in its own context (its own cookies): a second user."""
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_up(page, base_url: str, name: str, email: str, password: str = "browser-password") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/signup")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/")
