"""Every main page on a 390 px phone: no horizontal scroll, and axe-core finds no violation.

axe-core comes from npm (frontend/package.json); its script is injected into
each page (the context bypasses the site's CSP for that one script).
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from hitrack.services import ai_models, revenue
from hitrack.services import productions as prod
from hitrack.services.productions import ContributionInput as C
from tests.factories import PASSWORD, make_creator, make_record, make_remix

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
LONG_TITLE = "A very long title without any breaks " + "Supercalifragilisticexpialidocious" * 3


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, bypass_csp=True, is_mobile=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page, base_url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => `${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`)"""
    )
    return list(found)


def overflow(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_every_main_page_fits_a_phone_and_passes_axe(live_server, phone):
    services = live_server.app.extensions["hitrack"]
    with services.sessions() as db:
        admin = make_creator(db, "Admin", admin=True)
        ana, bo = make_creator(db, "Ana"), make_creator(db, "Bo")
        shoreline = make_record(db, services.storage, ana, LONG_TITLE, ai_training=True)
        tide = make_remix(db, services.storage, bo, (shoreline, "0.4"), title="Tide")
        production = prod.create_production(
            db,
            admin,
            title="Night Swim",
            contributions=[C(tide.public_id, "0.6", "composer"), C(shoreline.public_id, "0.4")],
        )
        prod.publish_proposal(db, admin, production.public_id, window=timedelta(days=3))
        prod.add_comment(db, ana, production.public_id, "More for me", objection=True)
        model = ai_models.register_model(
            db, admin, name="Tidal", version="1", manifest={shoreline.public_id: 1}
        ).model
        revenue.record_revenue(
            db,
            admin,
            {
                "external_id": "sale-1",
                "work": tide.public_id,
                "amount": 50_000_000,
                "currency": "USD",
            },
            default_fee_rate=Fraction(0),
        )
        pages = [
            "/",
            "/works",
            f"/works/{shoreline.public_id}",
            f"/works/{tide.public_id}/report",
            "/productions",
            f"/productions/{production.public_id}",
            f"/productions/{production.public_id}/edit",
            f"/productions/{production.public_id}/finalize",
            "/models",
            f"/models/{model.public_id}",
            "/upload",
            "/notifications",
            "/me/earnings",
            "/me/statement",
            "/me/payouts",
            "/account",
            "/admin/revenue",
            "/admin/payouts",
            "/admin/ledger",
        ]
        admin_email = admin.email
    log_in(phone, live_server.url, admin_email)
    problems: dict[str, list[str]] = {}
    for path in pages:
        response = phone.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        found = violations(phone)
        width = overflow(phone)
        if width > PHONE["width"]:
            found.append(f"scrollWidth {width} > {PHONE['width']}")
        if found:
            problems[path] = found
    assert problems == {}


def test_the_menu_collapses_on_a_phone_and_opens_with_its_button(live_server, phone):
    with live_server.app.extensions["hitrack"].sessions() as db:
        email = make_creator(db, "Ana").email
    log_in(phone, live_server.url, email)
    earnings = phone.get_by_role("link", name="Earnings")
    assert not earnings.is_visible()
    toggle = phone.get_by_role("button", name="Menu")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert earnings.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    earnings.click()
    phone.wait_for_url(f"{live_server.url}/me/earnings")


def test_the_skip_link_and_the_first_error_take_the_focus(live_server, phone):
    with live_server.app.extensions["hitrack"].sessions() as db:
        email = make_creator(db, "Ana").email
    log_in(phone, live_server.url, email)
    phone.goto(f"{live_server.url}/me/payouts")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    phone.keyboard.press("Enter")
    assert phone.evaluate("document.activeElement.id") == "main"
    phone.get_by_label("Payout method (bank account, IBAN or PayPal address)").fill("   ")
    phone.get_by_role("button", name="Save payout method").click()
    phone.wait_for_selector("#details-error")
    focused = phone.evaluate(
        "[document.activeElement.id, document.activeElement.getAttribute('aria-describedby')]"
    )
    assert focused == ["details", "details-error"]


def test_dark_mode_follows_the_system_setting(live_server, browser):
    context = browser.new_context(viewport=PHONE, color_scheme="dark", bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 20, 26)"
        assert violations(page) == []
    finally:
        context.close()
