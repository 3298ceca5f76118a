"""A model's operator pays the revenue they reported on the hosted Checkout page; only the
signed webhook funds it, and then the creators whose works trained the model are paid."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction

import pytest
from sqlalchemy.orm import Session

from hitrack.db.session import make_engine
from hitrack.services import ledger, revenue
from hitrack.settings import Settings
from tests.browser.conftest import LiveServer, start_live_server
from tests.factories import PASSWORD, make_creator, make_song, usd
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
    # The port is known only now: Checkout must send the operator back to this server.
    services = server.app.extensions["hitrack"]
    services.settings = dataclasses.replace(settings, base_url=server.url)
    fake_stripe.webhook_url = f"{server.url}/webhooks/stripe"
    yield server
    stop()


def test_an_operator_pays_a_report_on_the_checkout_page_and_the_webhook_settles_it(
    live_server: LiveServer, fake_stripe: FakeStripe, page
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(live_server.settings.database_url)
    with Session(engine, expire_on_commit=False) as db:
        cy, ana = make_creator(db, "Cy"), make_creator(db, "Ana")
        song = make_song(db, people={"cy": cy, "ana": ana})
        revenue.record_revenue(
            db,
            cy,
            {
                "work": song.model.public_id,
                "amount": usd(16),
                "currency": "USD",
                "external_id": "out-1",
            },
            default_fee_rate=Fraction(0),
        )
    base = live_server.url
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(cy.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/me/earnings")
    page.get_by_role("link", name="The revenue you reported").click()
    row = page.locator('tr[data-event="out-1"]')
    assert row.locator(".revenue-state").inner_text() == "reported"
    row.get_by_role("button", name="Pay").click()
    page.get_by_role("link", name="Continue to payment").click()
    page.wait_for_url(f"{fake_stripe.api_base}/checkout/**")
    assert "1600 USD" in page.locator("h1").inner_text()
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(f"{base}/me/revenue?funded=out-1")
    # Coming back proves nothing: the event is funded by Stripe's signed webhook only.
    with Session(engine) as db:
        assert revenue.get_event(db, "out-1").state == "reported"
        assert ledger.creator_balances(db, ana.id) == {}

    assert all(d.ok for d in fake_stripe.deliver())
    page.reload()
    assert page.locator('tr[data-event="out-1"] .revenue-state').inner_text() == "settled"
    with Session(engine) as db:
        assert ledger.creator_balances(db, ana.id)["USD"] > 0
        assert ledger.check_invariants(db) == []
    engine.dispose()
