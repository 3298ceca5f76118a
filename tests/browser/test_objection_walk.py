"""The proposal loop end to end: the contributor is mailed, reads the proposal on a phone,
objects; the producer answers and finalizes after confirming over the open objection."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from hitrack.services import productions as prod
from hitrack.services.productions import ContributionInput as C
from hitrack.settings import Settings
from tests.browser.test_phone_pages import PHONE, log_in, overflow
from tests.factories import make_creator, make_record, make_remix
from tests.mail_server import SmtpServer, smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server("plain") as server:
        yield server


@pytest.fixture
def live_settings(live_settings: Settings, smtp: SmtpServer) -> Settings:
    """Real SMTP on loopback; no comment window, so the producer can finalize at once."""
    return replace(live_settings, smtp_url=smtp.url, proposal_window_days=0)


def mail_to(smtp: SmtpServer, address: str) -> list[str]:
    return [m.get_content() for m in smtp.inbox.messages if m["To"] == address]


def test_a_contributor_is_mailed_objects_on_a_phone_and_the_producer_closes_the_loop(
    live_server, smtp, page, browser
):
    services = live_server.app.extensions["hitrack"]
    with services.sessions() as db:
        ana, bo, dana = (make_creator(db, n) for n in ("Ana", "Bo", "Dana"))
        shoreline = make_record(db, services.storage, ana, "Shoreline")
        tide = make_remix(db, services.storage, bo, (shoreline, "0.4"), title="Tide")
        production = prod.create_production(
            db,
            dana,
            title="Night Swim",
            contributions=[C(tide.public_id, "0.6", "composer"), C(shoreline.public_id, "0.4")],
        )
        pid, emails = production.public_id, {"ana": ana.email, "dana": dana.email}

    # Dana publishes the proposal from the edit page; the mail goes out on commit.
    log_in(page, live_server.url, emails["dana"])
    page.goto(f"{live_server.url}/productions/{pid}/edit")
    page.get_by_label("Note to contributors (optional)").fill("First cut, tell me")
    page.get_by_role("button", name="Publish proposal").click()
    page.wait_for_url(f"{live_server.url}/productions/{pid}")
    [mail] = mail_to(smtp, emails["ana"])
    assert "Dana proposed a split for “Night Swim”" in mail
    path = re.search(r"/productions/\S+", mail).group(0)  # type: ignore[union-attr]

    # Ana follows the link on her phone: the proposal fits, and she objects.
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    context.set_default_timeout(15_000)
    phone = context.new_page()
    try:
        log_in(phone, live_server.url, emails["ana"])
        phone.goto(f"{live_server.url}{path}")
        assert "Night Swim" in phone.locator("h1").inner_text()
        assert overflow(phone) <= PHONE["width"]
        phone.get_by_label("Comment").fill("Shoreline carries the whole song")
        phone.get_by_label("File this as an objection to the split").check()
        phone.get_by_role("button", name="Post").click()
        phone.wait_for_selector("text=Objection filed.")
        assert overflow(phone) <= PHONE["width"]
        assert any("Ana objected to the split" in m for m in mail_to(smtp, emails["dana"]))

        # Dana answers it; Ana reads the answer in her mail and on the page.
        page.reload()
        page.get_by_label("Your answer to Ana").fill("Tide's bass line is most of it")
        page.get_by_role("button", name="Answer", exact=True).click()
        page.wait_for_selector("text=Answer posted.")
        assert any("Tide's bass line is most of it" in m for m in mail_to(smtp, emails["ana"]))
        phone.reload()
        assert "Dana answered" in phone.locator("#comments").inner_text()

        # Finalizing shows the open objection and needs the confirmation.
        page.get_by_role("link", name="Review and finalize").click()
        assert "Shoreline carries the whole song" in page.locator("#open-objections").inner_text()
        confirm = page.get_by_label("Finalize over the open objections")
        page.get_by_role("button", name="Finalize the split").click()
        # Unchecked, the browser asks for the confirmation instead of sending the form.
        assert confirm.evaluate("box => box.validity.valueMissing") is True
        with services.sessions() as db:
            assert prod.get_production(db, None, pid).status == "proposed"
        confirm.check()
        page.get_by_role("button", name="Finalize the split").click()
        page.wait_for_selector("text=The split is final.")
        assert page.locator("#production-status").inner_text() == "finalized"
        assert any("is final" in m for m in mail_to(smtp, emails["ana"]))
    finally:
        context.close()
