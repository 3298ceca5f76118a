"""A creator connects a Stripe payout account through the hosted onboarding page, an admin runs
payouts, and the creator's earnings page shows the payout."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from hitrack.services import accounts, payouts
from hitrack.settings import Settings
from tests.browser.conftest import LiveServer, sign_up, start_live_server
from tests.factories import fund, usd
from tests.fake_stripe import FakeStripe

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(live_settings: Settings, fake_stripe: FakeStripe) -> Iterator[LiveServer]:
    settings = dataclasses.replace(
        live_settings,
        payout_provider="stripe",
        stripe_secret_key=fake_stripe.secret_key,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_api_base=fake_stripe.api_base,
    )
    server, stop = start_live_server(settings)
    # The port is known only now: onboarding links must lead back to this server.
    services = server.app.extensions["hitrack"]
    services.settings = dataclasses.replace(settings, base_url=server.url)
    yield server
    stop()


def test_a_creator_connects_stripe_an_admin_runs_payouts_and_the_earnings_page_shows_it(
    live_server: LiveServer, fake_stripe: FakeStripe, page, new_page
) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    sign_up(page, base, "Ana", "ana@example.test")

    # Connect (a form POST): on to Stripe's hosted onboarding and back to the status page.
    page.get_by_role("link", name="Payouts", exact=True).click()
    page.get_by_role("button", name="Connect payout account").click()
    page.wait_for_url(f"{fake_stripe.api_base}/onboarding/**")
    page.get_by_role("button", name="Complete onboarding").click()
    page.wait_for_url(f"{base}/me/payouts/return")
    assert "payouts enabled" in page.locator("#payout-account-status").inner_text()

    # Ana has earned 25.678912 USD (revenue settles into her payable).
    sessions = live_server.app.extensions["hitrack"].sessions
    with sessions() as db:
        ana = accounts.authenticate(db, email="ana@example.test", password="browser-password")
        fund(db, ana, usd("25.678912"))
        accounts.create_admin(db, email="admin@example.test", password="browser-admin-password")

    # The admin starts a run.
    admin = new_page()
    admin.goto(f"{base}/login")
    admin.get_by_label("E-mail").fill("admin@example.test")
    admin.get_by_label("Password").fill("browser-admin-password")
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(f"{base}/")
    admin.get_by_role("link", name="Payout runs").click()
    admin.get_by_role("button", name="Start payout run").click()
    admin.wait_for_selector("#run-summary")
    assert "1 payouts (1 paid); paid 25.67 USD" in admin.locator("#run-summary").inner_text()
    [transfer] = fake_stripe.transfers()
    assert transfer["amount"] == 2567

    # Ana sees the payout on her earnings page; the sub-cent remainder stays.
    page.goto(f"{base}/me/earnings")
    row = page.locator("#payouts tr.payout").first
    assert "25.67" in row.inner_text() and row.locator(".payout-status").inner_text() == "paid"
    assert page.locator("tr[data-currency='USD'] .balance .money").inner_text() == "0.00"
    with sessions() as db:
        assert payouts.payouts_for(db, ana.id)[0].status == "paid"
