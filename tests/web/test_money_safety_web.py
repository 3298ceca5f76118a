"""Money safety through the real routes: webhook timestamps, checkout in yen, CSVs, failed runs.

* A signed webhook whose timestamp is too far in the future is refused (the
  ``stripe`` library refuses only old ones).
* A Checkout paid in yen becomes yen, not a hundredth of them.
* Statement CSVs neutralise cells a spreadsheet would run as formulas.
* A payout run that failed shows its reason on the admin page and the API;
  earnings pages print each currency with its own decimals.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections.abc import Callable
from fractions import Fraction

import pytest
import stripe
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, RevenueEvent, WebhookEvent, Work
from hitrack.payments.stripe_connect import WEBHOOK_FUTURE_SKEW_SECONDS
from hitrack.services import payouts, revenue
from hitrack.settings import Settings
from tests.factories import (
    MINIMUMS,
    PASSWORD,
    ScriptedProvider,
    connect,
    fund,
    make_creator,
    make_song,
    make_work,
)
from tests.fake_stripe import FakeStripe
from tests.web.conftest import bearer, log_in


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return dataclasses.replace(
        settings,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_secret_key=fake_stripe.secret_key,
        stripe_api_base=fake_stripe.api_base,
    )


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def post_to(client: FlaskClient) -> Callable[[bytes, str], int]:
    def post(payload: bytes, signature: str) -> int:
        return client.post(
            "/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        ).status_code

    return post


def checkout(fake: FakeStripe, work: Work, amount: int, currency: str) -> str:
    """A customer buys ``work`` through Checkout (via the real stripe library)."""
    client = stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.api_base})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "http://x/ok",
            "cancel_url": "http://x/no",
            "metadata": {"work": work.public_id},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount,
                        "product_data": {"name": work.title},
                    },
                }
            ],
        }
    )
    fake.complete_checkout(session.id)
    return session.id


# --- webhook timestamps -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "status"),
    [(3600, 400), (WEBHOOK_FUTURE_SKEW_SECONDS + 30, 400), (WEBHOOK_FUTURE_SKEW_SECONDS - 30, 200)],
)
def test_a_webhook_signed_too_far_in_the_future_is_refused_and_writes_nothing(
    client: FlaskClient, fake_stripe: FakeStripe, app_db: Session, ahead: int, status: int
) -> None:
    song = make_song(app_db)
    checkout(fake_stripe, song.night_swim, 1999, "usd")
    [event] = fake_stripe.pending_events()
    payload, signature = fake_stripe.signed(event, timestamp=int(time.time()) + ahead)

    response = client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )

    assert response.status_code == status
    if status == 400:
        assert "in the future" in response.get_json()["error"]["message"]
        assert (count(app_db, WebhookEvent), count(app_db, RevenueEvent)) == (0, 0)
    else:  # ordinary clock skew is accepted
        assert (count(app_db, WebhookEvent), count(app_db, RevenueEvent)) == (1, 1)


# --- checkout in the currency's minor unit -------------------------------------------


@pytest.mark.parametrize(
    ("currency", "minor", "micros"),
    [("jpy", 1999, 1_999_000_000), ("kwd", 1999, 1_999_000), ("usd", 1999, 19_990_000)],
)
def test_a_checkout_amount_is_read_in_the_currency_s_minor_unit(
    client: FlaskClient,
    fake_stripe: FakeStripe,
    app_db: Session,
    currency: str,
    minor: int,
    micros: int,
) -> None:
    song = make_song(app_db)
    checkout(fake_stripe, song.night_swim, minor, currency)
    assert all(d.status == 200 for d in fake_stripe.deliver(to=post_to(client)))
    event = app_db.scalars(select(RevenueEvent)).one()
    assert (event.currency, event.amount) == (currency.upper(), micros)


def test_a_checkout_in_a_currency_hitrack_does_not_handle_is_stored_as_failed(
    client: FlaskClient, fake_stripe: FakeStripe, app_db: Session
) -> None:
    song = make_song(app_db)
    checkout(fake_stripe, song.night_swim, 500, "isk")  # Stripe's ISK is not ISO's: refused
    assert all(d.status == 200 for d in fake_stripe.deliver(to=post_to(client)))
    row = app_db.scalars(select(WebhookEvent)).one()
    assert row.status == "failed" and "ISK is not a currency hitrack handles" in row.error
    assert count(app_db, RevenueEvent) == 0


# --- CSV formula injection -------------------------------------------------------------


def test_statement_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    client: FlaskClient, app_db: Session
) -> None:
    admin = make_creator(app_db, "Admin", admin=True)
    ana = make_creator(app_db, "Ana")
    work = make_work(app_db, "record", '=HYPERLINK("http://evil.test","open")', {ana: 1})
    for key, amount in (("@SUM(A1:A9)", 2_500_000), ("+cmd|' /C calc'!A0", 1_000_000)):
        revenue.record_revenue(
            app_db,
            admin,
            {"external_id": key, "work": work.public_id, "amount": amount, "currency": "USD"},
            default_fee_rate=Fraction(0),
        )

    response = client.get(
        "/api/v1/me/statement",
        headers={**bearer(client, ana.email, PASSWORD), "Accept": "text/csv"},
    )

    assert response.status_code == 200 and response.mimetype == "text/csv"
    cells = [
        cell for row in csv.reader(io.StringIO(response.get_data(as_text=True))) for cell in row
    ]
    dangerous = [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert dangerous == []
    assert "'@SUM(A1:A9)" in cells and "'+cmd|' /C calc'!A0" in cells
    descriptions = [c for c in cells if "HYPERLINK" in c]
    assert descriptions and all(not c.startswith("=") for c in descriptions)
    # Amounts stay numbers a spreadsheet can add up.
    assert "2.500000" in cells and "2500000" in cells


# --- failed runs and currencies on the pages --------------------------------------------


def test_the_admin_page_and_the_api_show_why_a_run_failed(
    client: FlaskClient, app_db: Session
) -> None:
    admin, ana = make_creator(app_db, "Admin", admin=True), make_creator(app_db, "Ana")
    connect(app_db, ana)
    fund(app_db, ana, 30_000_000)

    def boom(done: int, _total: int) -> None:
        if done == 0:
            raise RuntimeError("the database connection was reset")

    run = payouts.run_payouts(
        app_db, ScriptedProvider(), started_by=admin, minimums=MINIMUMS, progress=boom
    )
    assert run.status == "failed"

    log_in(client, admin.email, PASSWORD)
    page = client.get(f"/admin/payouts/runs/{run.public_id}").get_data(as_text=True)
    assert 'id="run-failure"' in page
    assert "RuntimeError: the database connection was reset" in page
    assert 'data-status="failed"' in page
    listing = client.get("/admin/payouts").get_data(as_text=True)
    assert run.public_id in listing and "failed" in listing
    body = client.get(f"/api/v1/payouts/runs/{run.public_id}").get_json()
    assert (body["status"], body["failure_reason"]) == (
        "failed",
        "RuntimeError: the database connection was reset",
    )


def test_the_earnings_page_prints_yen_and_dinars_with_their_own_decimals(
    client: FlaskClient, app_db: Session
) -> None:
    ana: Creator = make_creator(app_db, "Ana")
    fund(app_db, ana, 1_234_567_891_234, currency="JPY")
    fund(app_db, ana, 12_345_678, currency="KWD")
    log_in(client, ana.email, PASSWORD)
    page = client.get("/me/earnings").get_data(as_text=True)
    assert 'data-micros="1234567891234">1234567</span>' in page
    assert 'data-micros="12345678">12.345</span>' in page
    body = client.get("/api/v1/me/earnings").get_json()
    assert {b["currency"]: b["display"] for b in body["balances"]} == {
        "JPY": "1234567",
        "KWD": "12.345",
    }
