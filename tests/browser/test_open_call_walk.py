"""Issue 15's loop end to end in the browser: a producer opens a call, two creators find it
by search and answer with uploads, the producer picks one into the split and publishes, the
picked creator is mailed, reads the proposal on a phone, objects; the producer answers and
finalizes over the open objection."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hitrack.services import productions as prod
from hitrack.services.demo import solid_png
from hitrack.services.productions import ContributionInput as C
from hitrack.settings import Settings
from tests.browser.test_phone_pages import PHONE, log_in, overflow
from tests.factories import make_creator, make_record
from tests.mail_server import SmtpServer, smtp_server

pytestmark = pytest.mark.browser
CALL = "A cover sketch for Night Swim"


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


def find_and_answer(page, base: str, title: str, upload) -> None:  # type: ignore[no-untyped-def]
    """A creator searches for the call by words in its title and answers it with an image."""
    page.goto(f"{base}/search")
    page.get_by_label("Words").fill("cover sketch")
    page.get_by_role("button", name="Search").click()
    hit = page.locator(".search-results li", has_text=CALL)
    assert "open until" in hit.inner_text()
    hit.get_by_role("link", name=CALL).click()
    assert page.locator("h1").inner_text() == CALL
    assert "wanted: image" in page.get_by_role("main").inner_text()
    form = page.locator("#answer-form")
    form.get_by_label("Title", exact=True).fill(title)
    form.get_by_label("Your media").set_input_files(str(upload))
    page.get_by_role("button", name="Send my answer").click()
    page.wait_for_selector("text=Your answer is in. The producer has been told.")
    assert title in page.locator("#answers").inner_text()


def test_a_call_is_found_answered_picked_objected_to_on_a_phone_answered_and_finalized(
    live_server, smtp, page, new_page, browser, tmp_path
):
    base = live_server.url
    services = live_server.app.extensions["hitrack"]
    with services.sessions() as db:
        ana, dana = make_creator(db, "Ana"), make_creator(db, "Dana")
        cleo, eli = make_creator(db, "Cleo"), make_creator(db, "Eli")
        shoreline = make_record(db, services.storage, ana, "Shoreline")
        production = prod.create_production(
            db, dana, title="Night Swim", contributions=[C(shoreline.public_id, "0.6")]
        )
        pid = production.public_id
        emails = {"dana": dana.email, "cleo": cleo.email, "eli": eli.email}
    uploads = {}
    for name, colour in (("cleo", (20, 40, 200)), ("eli", (20, 180, 60))):
        uploads[name] = tmp_path / f"{name}.png"
        uploads[name].write_bytes(solid_png(colour, size=8))
    deadline = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()

    # Dana opens a call from her production's page.
    log_in(page, base, emails["dana"])
    page.goto(f"{base}/productions/{pid}")
    page.get_by_role("link", name="Open a call for contributions").click()
    assert page.locator("h1").inner_text() == "Open a call on “Night Swim”"
    page.get_by_label("What you need").fill(CALL)
    page.get_by_label("Description").fill("Ink or paint, square, for the cover")
    page.get_by_label("Deadline").fill(deadline)
    page.get_by_label("image").check()
    page.get_by_role("button", name="Open the call").click()
    page.wait_for_selector("text=Your call is open.")
    call_url = page.url
    assert page.locator("h1").inner_text() == CALL
    assert "No answers yet." in page.locator("#answers").inner_text()

    # Cleo and Eli each find it by search and answer with an upload.
    cleo_page, eli_page = new_page(), new_page()
    log_in(cleo_page, base, emails["cleo"])
    find_and_answer(cleo_page, base, "Cleo's ink sketch", uploads["cleo"])
    log_in(eli_page, base, emails["eli"])
    find_and_answer(eli_page, base, "Eli's paint sketch", uploads["eli"])
    producer_mail = mail_to(smtp, emails["dana"])
    assert any("Cleo answered your call" in m for m in producer_mail)
    assert any("Eli answered your call" in m for m in producer_mail)

    # Dana picks Cleo's answer into the split; the production page shows it.
    page.goto(call_url)
    answers = page.locator("#answers")
    assert "Cleo's ink sketch" in answers.inner_text()
    assert "Eli's paint sketch" in answers.inner_text()
    cleo_answer = answers.locator("li", has_text="Cleo's ink sketch")
    cleo_answer.get_by_label("Share").fill("25%")
    cleo_answer.get_by_label("Role").fill("cover artist")
    cleo_answer.get_by_role("button", name="Pick").click()
    page.wait_for_url(f"{base}/productions/{pid}")
    assert "Picked: it is now part of the split." in page.get_by_role("main").inner_text()
    assert "Cleo" in page.locator("#preview").inner_text()
    assert "Eli" not in page.locator("#preview").inner_text()
    assert any("Dana picked “Cleo's ink sketch”" in m for m in mail_to(smtp, emails["cleo"]))
    assert not any("picked" in m for m in mail_to(smtp, emails["eli"]))
    page.goto(call_url)
    assert "picked" in page.locator("#answers li", has_text="Cleo's ink sketch").inner_text()

    # Dana publishes the proposal; Cleo is mailed a link to it.
    page.goto(f"{base}/productions/{pid}/edit")
    page.get_by_label("Note to contributors (optional)").fill("Cleo's sketch is the cover")
    page.get_by_role("button", name="Publish proposal").click()
    page.wait_for_url(f"{base}/productions/{pid}")
    proposal = [m for m in mail_to(smtp, emails["cleo"]) if "proposed a split" in m]
    assert len(proposal) == 1 and "Dana proposed a split for “Night Swim”" in proposal[0]
    path = re.search(r"/productions/\S+", proposal[0]).group(0)  # type: ignore[union-attr]

    # Cleo opens it on her phone: it fits 390 px, and she objects.
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    context.set_default_timeout(15_000)
    phone = context.new_page()
    try:
        log_in(phone, base, emails["cleo"])
        phone.goto(f"{base}{path}")
        assert "Night Swim" in phone.locator("h1").inner_text()
        assert "Cleo" in phone.locator("#preview").inner_text()
        assert overflow(phone) <= PHONE["width"]
        phone.get_by_label("Comment").fill("The cover is worth more than a quarter")
        phone.get_by_label("File this as an objection to the split").check()
        phone.get_by_role("button", name="Post").click()
        phone.wait_for_selector("text=Objection filed.")
        assert overflow(phone) <= PHONE["width"]
        assert any("Cleo objected to the split" in m for m in mail_to(smtp, emails["dana"]))

        # Dana answers the objection; Cleo reads the answer by mail and on her phone.
        page.reload()
        page.get_by_label("Your answer to Cleo").fill("A quarter is what the call offered")
        page.get_by_role("button", name="Answer", exact=True).click()
        page.wait_for_selector("text=Answer posted.")
        assert any("A quarter is what the call offered" in m for m in mail_to(smtp, emails["cleo"]))
        phone.reload()
        comments = phone.locator("#comments").inner_text()
        assert "Dana answered" in comments and "A quarter is what the call offered" in comments

        # Finalizing lists the open objection and asks to confirm it first.
        page.get_by_role("link", name="Review and finalize").click()
        assert "The cover is worth more than a quarter" in (
            page.locator("#open-objections").inner_text()
        )
        confirm = page.get_by_label("Finalize over the open objections")
        page.get_by_role("button", name="Finalize the split").click()
        assert confirm.evaluate("box => box.validity.valueMissing") is True
        confirm.check()
        page.get_by_role("button", name="Finalize the split").click()
        page.wait_for_selector("text=The split is final.")
        assert page.locator("#production-status").inner_text() == "finalized"
        assert any("is final" in m for m in mail_to(smtp, emails["cleo"]))
        phone.reload()
        assert phone.locator("#production-status").inner_text() == "finalized"
    finally:
        context.close()
