"""A creator who forgot their password gets the link by e-mail (a real SMTP server on
loopback), sets a new password in the browser, and logs in with it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest

from hitrack.settings import Settings
from tests.browser.conftest import LiveServer, sign_up, start_live_server
from tests.mail_server import SmtpServer, smtp_server

pytestmark = pytest.mark.browser
LINK = re.compile(r"http://\S+/password/reset/\S+")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server("plain") as server:
        yield server


@pytest.fixture
def live_server(live_settings: Settings, smtp: SmtpServer) -> Iterator[LiveServer]:
    settings = dataclasses.replace(live_settings, smtp_url=smtp.url)
    server, stop = start_live_server(settings)
    # Links in e-mails must lead back to this server, whose port is known only now.
    server.app.extensions["hitrack"].settings = dataclasses.replace(settings, base_url=server.url)
    yield server
    stop()


def test_forgotten_password_reset_by_mail_and_used_to_log_in(
    live_server: LiveServer, smtp: SmtpServer, page, new_page
) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    sign_up(page, base, "Ana", "ana@example.test")
    page.get_by_role("button", name="Log out").click()

    page.goto(f"{base}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill("ana@example.test")
    page.get_by_role("button", name="Send the link").click()
    assert "If an account has this e-mail" in page.locator("#reset-sent").inner_text()

    [message] = smtp.inbox.messages
    assert message["To"] == "ana@example.test"
    link = LINK.search(message.get_content()).group(0)
    assert link.startswith(f"{base}/password/reset/")

    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a fresh browser password")
    page.get_by_label("Repeat the new password").fill("a fresh browser password")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url(f"{base}/login")
    assert "Your password is changed" in page.content()

    page.get_by_label("E-mail").fill("ana@example.test")
    page.get_by_label("Password").fill("a fresh browser password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    page.get_by_role("link", name="Ana").click()
    assert "API tokens" in page.content()

    # The link worked once.
    again = new_page()
    again.goto(link)
    assert "expired or was used already" in again.locator("#reset-invalid").inner_text()
