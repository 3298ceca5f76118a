"""Payout pages: connecting an account (fresh login), manual methods, admin runs, marks, CSV, webhooks."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import PayoutAccount, PayoutRun
from hitrack.services import ledger, payouts
from hitrack.settings import Settings
from tests.factories import PASSWORD, fund, make_creator, usd
from tests.fake_stripe import FakeStripe
from tests.fake_stripe.fixtures import make_stripe_provider
from tests.web.conftest import csrf_token, log_in


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    """Manual payouts by default; the Stripe webhook endpoint verifies with the fake's secret."""
    return dataclasses.replace(
        settings,
        base_url="https://hitrack.test",
        stripe_secret_key=fake_stripe.secret_key,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_api_base=fake_stripe.api_base,
    )


@pytest.fixture
def use_stripe(app: Flask, fake_stripe: FakeStripe) -> FakeStripe:
    app.extensions["hitrack"].extra["payouts"] = make_stripe_provider(fake_stripe)
    return fake_stripe


def onboarding_url(page: str) -> str:
    """The onboarding link on the page the connect button answers with."""
    match = re.search(r'id="continue-onboarding" href="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1).replace("&amp;", "&")


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def post(
    client: FlaskClient, url: str, data: dict[str, str] | None = None, page: str = "/me/payouts"
):  # type: ignore[no-untyped-def]
    """Submit a form of ``page`` as a browser does (with its token, from that page)."""
    return client.post(
        url,
        data={"csrf_token": csrf_token(client, page), **(data or {})},
        headers={"Referer": f"http://localhost{page}"},
    )


def test_a_creator_connects_a_stripe_account_and_comes_back_to_its_status(
    client: FlaskClient, app_db: Session, use_stripe: FakeStripe
) -> None:
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email or "", PASSWORD)
    page = client.get("/me/payouts").get_data(as_text=True)
    assert "Connect payout account" in page and "no payout account yet" in page

    response = post(client, "/me/payouts/connect")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    onboarding = onboarding_url(response.get_data(as_text=True))
    assert onboarding.startswith(use_stripe.api_base + "/onboarding/")
    row = payouts.payout_account(app_db, ana.id, "stripe")
    assert row is not None and not row.payable
    link = next(iter(use_stripe.state.account_links.values()))
    assert link["return_url"] == "https://hitrack.test/me/payouts/return"
    assert link["refresh_url"] == "https://hitrack.test/me/payouts/refresh"

    # An expired link sends the creator to the refresh URL: the button again, no new link yet.
    expired = client.get("/me/payouts/refresh")
    assert expired.status_code == 200 and "expired" in expired.get_data(as_text=True)
    assert len(use_stripe.state.account_links) == 1
    again = onboarding_url(post(client, "/me/payouts/connect").get_data(as_text=True))
    assert again != onboarding and len(use_stripe.state.account_links) == 2

    use_stripe.complete_onboarding(row.provider_account_id)
    back = client.get("/me/payouts/return")
    text = back.get_data(as_text=True)
    assert back.status_code == 200 and "payouts enabled" in text and "Update payout account" in text
    app_db.refresh(row)
    assert row.payable


def test_changing_payout_details_needs_a_fresh_login(
    client: FlaskClient, app_db: Session, use_stripe: FakeStripe
) -> None:
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email or "", PASSWORD)
    token = csrf_token(client, "/me/payouts")
    with client.session_transaction() as session:
        session["_fresh"] = False  # as after "keep me signed in" restored the session
    response = client.post("/me/payouts/connect", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    saved = client.post("/me/payouts/method", data={"csrf_token": token, "details": "IBAN X"})
    assert saved.location.startswith("/login?next=")
    assert count(app_db, PayoutAccount) == 0
    assert client.get("/me/payouts").status_code == 200  # looking is fine
    assert client.get("/me/payouts/refresh").status_code == 200
    log_in(client, ana.email or "", PASSWORD)
    # The log-in's next= leads back to the button, which now works.
    assert client.get("/me/payouts/connect").location == "/me/payouts"
    connected = post(client, "/me/payouts/connect")
    assert onboarding_url(connected.get_data(as_text=True)).startswith(use_stripe.api_base)
    assert count(app_db, PayoutAccount) == 1


def test_connecting_is_a_post_with_a_csrf_token(
    client: FlaskClient, app_db: Session, use_stripe: FakeStripe
) -> None:
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email or "", PASSWORD)
    assert client.get("/me/payouts/connect").status_code == 302  # shows the page, makes nothing
    assert client.post("/me/payouts/connect").status_code == 400  # no token: a forged form
    assert count(app_db, PayoutAccount) == 0 and not use_stripe.state.account_links


def test_manual_method_is_entered_by_the_creator_and_verified_by_an_admin(
    client: FlaskClient, app_db: Session
) -> None:
    admin, ana = make_creator(app_db, "Admin", admin=True), make_creator(app_db, "Ana")
    log_in(client, ana.email or "", PASSWORD)
    assert "Save payout method" in client.get("/me/payouts").get_data(as_text=True)
    assert post(client, "/me/payouts/method", {"details": ""}).status_code == 422
    assert post(client, "/me/payouts/method", {"details": "IBAN DE89 3704"}).status_code == 302
    row = payouts.payout_account(app_db, ana.id, "manual")
    assert row is not None and not row.payable
    # A creator cannot verify their own method.
    assert post(client, f"/admin/payouts/methods/{ana.handle}/verify").status_code == 403

    client.post("/logout", data={"csrf_token": csrf_token(client, "/me/payouts")})
    log_in(client, admin.email or "", PASSWORD)
    page = client.get("/admin/payouts").get_data(as_text=True)
    assert "IBAN DE89 3704" in page and "Verify" in page
    assert (
        post(
            client, f"/admin/payouts/methods/{ana.handle}/verify", page="/admin/payouts"
        ).status_code
        == 302
    )
    app_db.refresh(row)
    assert row.payable and row.verified_by_id == admin.id


def test_non_admins_cannot_start_runs_or_see_them(client: FlaskClient, app_db: Session) -> None:
    ana = make_creator(app_db, "Ana")
    fund(app_db, ana, usd(50))
    log_in(client, ana.email or "", PASSWORD)
    assert client.get("/admin/payouts").status_code == 403
    assert post(client, "/admin/payouts/runs").status_code == 403
    assert (
        post(
            client, "/admin/payouts/methods", {"handle": ana.handle, "details": "mine"}
        ).status_code
        == 403
    )
    assert count(app_db, PayoutRun) == 0 and count(app_db, PayoutAccount) == 0
    assert client.get("/admin/payouts").status_code == 403


def test_an_admin_runs_manual_payouts_exports_them_and_marks_each_line(
    client: FlaskClient, app_db: Session
) -> None:
    admin = make_creator(app_db, "Admin", admin=True)
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    log_in(client, admin.email or "", PASSWORD)
    for person, method in ((ana, "IBAN ANA"), (bo, "PayPal bo@example.test")):
        assert (
            post(
                client,
                "/admin/payouts/methods",
                {"handle": person.handle, "details": method},
                page="/admin/payouts",
            ).status_code
            == 302
        )
    fund(app_db, ana, usd("25.559"))
    fund(app_db, bo, usd(5))  # below the 10.00 minimum

    response = post(client, "/admin/payouts/runs", page="/admin/payouts")
    assert response.status_code == 302
    run = app_db.scalars(select(PayoutRun)).one()
    page = client.get(response.location).get_data(as_text=True)
    assert "1 payouts (1 pending)" in page and "Mark paid" in page

    exported = client.get(f"/admin/payouts/runs/{run.public_id}.csv")
    assert exported.mimetype == "text/csv"
    assert list(csv.DictReader(io.StringIO(exported.get_data(as_text=True)))) == [
        {
            "payee": "Ana",
            "method": "IBAN ANA",
            "amount": "25.55",
            "currency": "USD",
            "reference": f"{run.public_id}:{ana.id}:USD",
        }
    ]

    [payout] = run.payouts
    marked = post(
        client,
        f"/admin/payouts/{payout.id}/mark",
        {"outcome": "paid", "note": "SEPA 1"},
        page=f"/admin/payouts/runs/{run.public_id}",
    )
    assert marked.status_code == 302
    app_db.refresh(payout)
    assert payout.status == "paid"
    again = post(
        client,
        f"/admin/payouts/{payout.id}/mark",
        {"outcome": "failed", "note": "x"},
        page=f"/admin/payouts/runs/{run.public_id}",
    )
    # Refused with a message, back on the run's page; nothing changed.
    assert again.status_code == 302 and again.location == f"/admin/payouts/runs/{run.public_id}"
    app_db.refresh(payout)
    assert payout.status == "paid"
    assert ledger.creator_balances(app_db, ana.id) == {"USD": 9_000}
    assert ledger.check_invariants(app_db) == []

    # Ana sees the payout on her earnings page.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/payouts")})
    log_in(client, ana.email or "", PASSWORD)
    earnings = client.get("/me/earnings").get_data(as_text=True)
    assert re.search(r'data-status="paid"', earnings) and "25.55" in earnings


def test_a_reversal_webhook_shows_on_the_creators_pages(
    client: FlaskClient, app_db: Session, use_stripe: FakeStripe
) -> None:
    admin, ana = make_creator(app_db, "Admin", admin=True), make_creator(app_db, "Ana")
    provider = make_stripe_provider(use_stripe)
    row = payouts.connect_account(app_db, provider, ana)
    use_stripe.complete_onboarding(row.provider_account_id)
    payouts.refresh_account(app_db, provider, ana)
    fund(app_db, ana, usd(20))
    [payout] = payouts.run_payouts(
        app_db, provider, started_by=admin, minimums={"USD": usd(10)}
    ).payouts
    use_stripe.reverse_transfer(payout.provider_transfer_id or "")

    def deliver(payload: bytes, signature: str) -> int:
        return client.post(
            "/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        ).status_code

    assert {d.status for d in use_stripe.deliver(to=deliver, duplicate=True)} == {200}
    bad = client.post("/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert bad.status_code == 400
    log_in(client, ana.email or "", PASSWORD)
    page = client.get("/me/payouts").get_data(as_text=True)
    assert 'data-status="reversed"' in page and "returned to the balance" in page
    assert ledger.creator_balances(app_db, ana.id) == {"USD": usd(20)}
    app_db.refresh(payout)
    assert payout.status == "reversed"


def test_a_blank_payout_method_is_refused_with_a_message_tied_to_the_field(
    client: FlaskClient, app_db: Session
) -> None:
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email or "", PASSWORD)
    response = post(client, "/me/payouts/method", {"details": "   \n  "})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Describe where to pay you" in page
    assert 'aria-describedby="details-error"' in page and 'aria-invalid="true"' in page
    assert payouts.payout_account(app_db, ana.id, "manual") is None


def test_a_balance_in_a_currency_without_a_minimum_is_told_to_the_creator(
    client: FlaskClient, app_db: Session
) -> None:
    ana = make_creator(app_db, "Ana")
    fund(app_db, ana, usd(30), "EUR")
    log_in(client, ana.email or "", PASSWORD)
    page = client.get("/me/payouts").get_data(as_text=True)
    assert 'id="unpaid-currencies"' in page and "Your balance in EUR is not paid out yet" in page
