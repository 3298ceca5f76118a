"""Funding over HTTP: an operator's report pays nobody until its money arrives.

The attack this closes: a creator registers a model on their own AI-consenting
record, reports revenue for it as its operator, and waits for the payout run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, LedgerTransaction, RevenueEvent, WebhookEvent
from hitrack.services import ledger
from hitrack.settings import Settings
from tests.factories import PASSWORD, WAV, Song, connect, make_creator, make_record, make_song, usd
from tests.fake_stripe.fixtures import make_stripe_provider
from tests.fake_stripe.server import FakeStripe
from tests.web.conftest import bearer


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    """Manual payouts unless a test switches to Stripe; the webhook endpoint trusts the fake."""
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


@pytest.fixture
def song(app_db: Session) -> Song:
    people = {
        "admin": make_creator(app_db, "Admin", admin=True),
        "ana": make_creator(app_db, "Ana"),
        "bo": make_creator(app_db, "Bo"),
        "cy": make_creator(app_db, "Cy"),
    }
    return make_song(app_db, people=people)


def login(client: FlaskClient, creator: Creator) -> dict[str, str]:
    return bearer(client, creator.email or "", PASSWORD)


def post_to(client: FlaskClient) -> Callable[[bytes, str], int]:
    def post(payload: bytes, signature: str) -> int:
        return client.post(
            "/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        ).status_code

    return post


def report_body(song: Song, external_id: str = "out-1", amount: int = usd(16)) -> dict[str, object]:
    return {
        "work": song.model.public_id,
        "amount": amount,
        "currency": "USD",
        "external_id": external_id,
        "attribution": {song.shoreline.public_id: "3", song.sketch.public_id: "1"},
    }


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


# --- the attack ------------------------------------------------------------------------


def test_an_operator_cannot_pay_themselves_from_an_unfunded_report(
    client: FlaskClient,
    app_db: Session,
    app_storage,
    use_stripe: FakeStripe,  # type: ignore[no-untyped-def]
) -> None:
    admin = login(client, make_creator(app_db, "Admin", admin=True))
    mallory = make_creator(app_db, "Mallory")
    record = make_record(app_db, app_storage, mallory, "My own track", ai_training=True, data=WAV)
    me = login(client, mallory)
    registered = client.post(
        "/api/v1/models",
        headers=me,
        json={"name": "Self-dealing model", "manifest": {record.public_id: 1}},
    )
    assert registered.status_code == 201, registered.get_json()
    model_id = registered.get_json()["model"]["id"]
    provider = make_stripe_provider(use_stripe)
    account = provider.create_account(creator_id=str(mallory.id), email=mallory.email or "")
    use_stripe.complete_onboarding(account.provider_account_id)
    connect(app_db, mallory, "stripe", account_id=account.provider_account_id)

    claim = {"work": model_id, "amount": 10**12, "currency": "USD", "external_id": "claim-1"}
    reported = client.post("/api/v1/revenue", json=claim, headers=me)
    assert reported.status_code == 201, reported.get_json()
    assert (reported.get_json()["state"], reported.get_json()["allocations"]) == ("reported", [])

    earnings = client.get("/api/v1/me/earnings", headers=me).get_json()
    assert earnings["balances"] == [] and earnings["earnings"] == []
    assert [m["micros"] for m in earnings["expected"]["totals"]] == [10**12]
    assert ledger.creator_balances(app_db, mallory.id) == {}
    run = client.post("/api/v1/payouts/runs", headers=admin)
    assert run.status_code == 201 and run.get_json()["payouts"] == []
    assert use_stripe.transfers() == []

    # Opening the Checkout page is not paying it.
    fund = client.post("/api/v1/revenue/claim-1/fund", headers=me)
    assert fund.status_code == 200, fund.get_json()
    checkout = fund.get_json()["checkout"]
    assert fund.get_json()["method"] == "checkout" and checkout["url"].startswith(
        use_stripe.api_base
    )
    assert client.post("/api/v1/payouts/runs", headers=admin).get_json()["payouts"] == []
    assert ledger.creator_balances(app_db, mallory.id) == {}

    # Only once the money has arrived does it pay anyone.
    assert all(d.ok for d in use_stripe.pay_checkout(checkout["id"], to=post_to(client)))
    event = client.get("/api/v1/revenue/claim-1", headers=me).get_json()
    assert (event["state"], event["funding"]["method"]) == ("settled", "checkout")
    assert ledger.creator_balances(app_db, mallory.id) == {"USD": 10**12}
    paid = client.post("/api/v1/payouts/runs", headers=admin).get_json()
    assert [(p["creator"], p["amount"]) for p in paid["payouts"]] == [(mallory.handle, 10**12)]
    assert [(t["destination"], t["amount"]) for t in use_stripe.transfers()] == [
        (account.provider_account_id, 10**12 // 10_000)
    ]
    assert ledger.check_invariants(app_db) == []


# --- Checkout webhooks: replayed, forged -----------------------------------------------------


def open_session(client: FlaskClient, song: Song, fake: FakeStripe) -> str:
    cy = login(client, song.cy)
    assert client.post("/api/v1/revenue", json=report_body(song), headers=cy).status_code == 201
    answer = client.post("/api/v1/revenue/out-1/fund", headers=cy).get_json()
    fake.complete_checkout(answer["checkout"]["id"])
    return str(answer["checkout"]["id"])


def test_a_replayed_funding_webhook_funds_once(
    client: FlaskClient, app_db: Session, song: Song, use_stripe: FakeStripe
) -> None:
    open_session(client, song, use_stripe)
    [event] = use_stripe.pending_events()
    for _ in range(3):
        assert post_to(client)(*use_stripe.signed(event)) == 200
    use_stripe.deliver(to=post_to(client), duplicate=True)
    funded = app_db.scalars(select(RevenueEvent)).one()
    assert funded.state == "settled"
    keys = list(app_db.scalars(select(LedgerTransaction.idempotency_key)))
    assert sorted(keys) == ["revenue-funding:out-1", "revenue:out-1"]
    assert app_db.scalars(select(WebhookEvent)).one().status == "processed"
    assert ledger.check_invariants(app_db) == []


@pytest.mark.parametrize(
    "attack", ["tampered metadata", "wrong secret", "stale timestamp", "no signature"]
)
def test_a_forged_funding_webhook_funds_nothing(
    client: FlaskClient, app_db: Session, song: Song, use_stripe: FakeStripe, attack: str
) -> None:
    open_session(client, song, use_stripe)
    [event] = use_stripe.pending_events()
    if attack == "wrong secret":
        payload, signature = use_stripe.signed(event, secret="whsec_forged")
    elif attack == "stale timestamp":
        payload, signature = use_stripe.signed(event, timestamp=int(time.time()) - 3600)
    else:
        payload, signature = use_stripe.signed(event)
    if attack == "tampered metadata":
        payload = payload.replace(b'"revenue_event": "out-1"', b'"revenue_event": "out-2"')
        assert b"out-2" in payload
    if attack == "no signature":
        signature = ""
    assert post_to(client)(payload, signature) == 400
    assert app_db.scalars(select(RevenueEvent)).one().state == "reported"
    assert count(app_db, LedgerTransaction) == count(app_db, WebhookEvent) == 0


def test_a_signed_completion_naming_no_open_report_is_stored_as_failed(
    client: FlaskClient, app_db: Session, song: Song, use_stripe: FakeStripe
) -> None:
    cy = login(client, song.cy)
    client.post("/api/v1/revenue", json=report_body(song), headers=cy)
    client.post(
        "/api/v1/revenue/out-1/reject",
        json={"reason": "no sales"},
        headers=login(client, song.admin),
    )
    use_stripe.emit(
        "checkout.session.completed",
        {
            "id": "cs_test_late",
            "object": "checkout.session",
            "amount_total": 1600,
            "currency": "usd",
            "payment_status": "paid",
            "metadata": {"revenue_event": "out-1"},
        },
    )
    assert all(d.status == 200 for d in use_stripe.deliver(to=post_to(client)))
    row = app_db.scalars(select(WebhookEvent)).one()
    assert row.status == "failed" and "already rejected" in row.error and "refund" in row.error
    assert count(app_db, LedgerTransaction) == 0


# --- manual funding ----------------------------------------------------------------------------


def test_with_manual_payouts_an_admin_confirms_the_money_arrived(
    client: FlaskClient, app_db: Session, song: Song
) -> None:
    cy, admin = login(client, song.cy), login(client, song.admin)
    client.post("/api/v1/revenue", json=report_body(song), headers=cy)
    fund = client.post("/api/v1/revenue/out-1/fund", headers=cy)
    assert fund.status_code == 200
    assert (fund.get_json()["method"], fund.get_json()["checkout"]) == ("manual", None)
    assert fund.get_json()["event"]["state"] == "reported"

    confirmed = client.post(
        "/api/v1/revenue/out-1/confirm-funding", json={"reference": "wire 7"}, headers=admin
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    body = confirmed.get_json()
    assert (body["state"], body["funding"]["method"]) == ("settled", "manual")
    assert sum(a["amount"] for a in body["allocations"]) == usd(16)
    assert ledger.creator_balances(app_db, song.ana.id)["USD"] > 0

    again = client.post("/api/v1/revenue/out-1/confirm-funding", headers=admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert "already settled" in again.get_json()["error"]["message"]
    assert client.post("/api/v1/revenue/out-1/reject", headers=admin).status_code == 409
    assert client.post("/api/v1/revenue/out-1/fund", headers=cy).status_code == 409


def test_refused_transitions_over_the_api(client: FlaskClient, app_db: Session, song: Song) -> None:
    cy, admin = login(client, song.cy), login(client, song.admin)
    client.post("/api/v1/revenue", json=report_body(song), headers=cy)
    assert client.post("/api/v1/revenue/out-1/confirm-funding", headers=cy).status_code == 403
    assert client.post("/api/v1/revenue/out-1/reject", headers=cy).status_code == 403
    assert (
        client.post(
            "/api/v1/revenue/out-1/confirm-funding", json={"amount": 1}, headers=admin
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/revenue/out-1/reject", json={"reason": "x" * 501}, headers=admin
        ).status_code
        == 422
    )
    assert client.post("/api/v1/revenue/nope/confirm-funding", headers=admin).status_code == 404
    assert client.post("/api/v1/revenue/out-1/fund").status_code == 401
    rejected = client.post("/api/v1/revenue/out-1/reject", json={"reason": "no"}, headers=admin)
    assert rejected.status_code == 200
    assert (rejected.get_json()["state"], rejected.get_json()["rejection_reason"]) == (
        "rejected",
        "no",
    )
    for url, who in (("confirm-funding", admin), ("reject", admin), ("fund", cy)):
        refused = client.post(f"/api/v1/revenue/out-1/{url}", headers=who)
        assert refused.status_code == 409 and "rejected" in refused.get_json()["error"]["message"]
    assert count(app_db, LedgerTransaction) == 0


# --- replays do not leak ------------------------------------------------------------------------


def test_an_unknown_id_and_anothers_id_answer_alike(
    client: FlaskClient, app_db: Session, song: Song
) -> None:
    cy, bo = login(client, song.cy), login(client, song.bo)
    assert client.post("/api/v1/revenue", json=report_body(song), headers=cy).status_code == 201

    def answer(method: str, external_id: str, **body: object) -> tuple[int, dict[str, object]]:
        if method == "GET":
            response = client.get(f"/api/v1/revenue/{external_id}", headers=bo)
        else:
            response = client.post(
                "/api/v1/revenue", json={**report_body(song, external_id), **body}, headers=bo
            )
        data = response.get_json()
        return response.status_code, {
            "code": data["error"]["code"],
            "message": data["error"]["message"].replace(external_id, "<id>"),
        }

    assert answer("GET", "out-1") == answer("GET", "never-sent")
    assert answer("GET", "out-1")[0] == 404
    assert answer("POST", "out-1") == answer("POST", "never-sent")
    assert answer("POST", "out-1", amount=usd(17)) == answer("POST", "never-sent", amount=usd(17))
    assert answer("POST", "out-1")[0] == 403
    assert count(app_db, RevenueEvent) == 1
    # The sender still gets their replay.
    replay = client.post("/api/v1/revenue", json=report_body(song), headers=cy)
    assert replay.status_code == 200 and replay.get_json()["state"] == "reported"


# --- pages ------------------------------------------------------------------------------------


def page_post(client: FlaskClient, url: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from tests.web.conftest import csrf_token

    return client.post(url, data={"csrf_token": csrf_token(client, "/me/revenue"), **(data or {})})


def test_the_operator_pays_from_their_revenue_page(
    client: FlaskClient, app_db: Session, song: Song, use_stripe: FakeStripe
) -> None:
    from tests.web.conftest import log_in

    client.post("/api/v1/revenue", json=report_body(song), headers=login(client, song.cy))
    log_in(client, song.cy.email or "", PASSWORD)
    page = client.get("/me/revenue").get_data(as_text=True)
    pay = 'action="/me/revenue/out-1/fund"'
    assert 'data-event="out-1"' in page and 'data-state="reported"' in page and pay in page
    answer = page_post(client, "/me/revenue/out-1/fund")
    assert answer.status_code == 200
    [session] = use_stripe.checkout_sessions()
    assert f'href="{session["url"]}"' in answer.get_data(as_text=True)
    use_stripe.pay_checkout(session["id"], to=post_to(client))
    back = client.get("/me/revenue?funded=out-1").get_data(as_text=True)
    assert 'data-state="settled"' in back and pay not in back and "Thank you" in back


def test_with_manual_payouts_the_pay_button_explains_what_to_do(
    client: FlaskClient, song: Song
) -> None:
    from tests.web.conftest import log_in

    client.post("/api/v1/revenue", json=report_body(song), headers=login(client, song.cy))
    log_in(client, song.cy.email or "", PASSWORD)
    answer = page_post(client, "/me/revenue/out-1/fund")
    assert answer.status_code == 302 and answer.location.endswith("/me/revenue")
    assert "an admin confirms" in client.get("/me/revenue").get_data(as_text=True)


def test_admins_confirm_or_reject_reported_revenue_on_a_page(
    client: FlaskClient, app_db: Session, song: Song
) -> None:
    from tests.web.conftest import log_in

    cy = login(client, song.cy)
    client.post("/api/v1/revenue", json=report_body(song, "out-1"), headers=cy)
    client.post("/api/v1/revenue", json=report_body(song, "out-2"), headers=cy)
    log_in(client, song.admin.email or "", PASSWORD)
    assert "Review reported revenue" in client.get("/admin/ledger").get_data(as_text=True)
    page = client.get("/admin/revenue").get_data(as_text=True)
    assert 'data-event="out-1"' in page and 'data-event="out-2"' in page and "Cy" in page
    confirmed = page_post(client, "/admin/revenue/out-1/confirm", {"reference": "wire 9"})
    assert confirmed.status_code == 302
    rejected = page_post(client, "/admin/revenue/out-2/reject", {"reason": "never sold"})
    assert rejected.status_code == 302
    states = {e.external_id: e.state for e in app_db.scalars(select(RevenueEvent))}
    assert states == {"out-1": "settled", "out-2": "rejected"}
    after = client.get("/admin/revenue").get_data(as_text=True)
    assert "data-event=" not in after and "No reported revenue is waiting" in after
    assert ledger.check_invariants(app_db) == []


def test_only_admins_see_the_reported_revenue_page(client: FlaskClient, song: Song) -> None:
    from tests.web.conftest import log_in

    log_in(client, song.cy.email or "", PASSWORD)
    assert client.get("/admin/revenue").status_code == 403
    assert page_post(client, "/admin/revenue/out-1/confirm").status_code == 403


def test_the_earnings_page_shows_expected_money_apart_from_the_balance(
    client: FlaskClient, song: Song
) -> None:
    from tests.web.conftest import log_in

    client.post("/api/v1/revenue", json=report_body(song), headers=login(client, song.cy))
    ana = login(client, song.ana)
    expected = client.get("/api/v1/me/earnings", headers=ana).get_json()["expected"]
    [total] = expected["totals"]
    log_in(client, song.ana.email or "", PASSWORD)
    page = client.get("/me/earnings").get_data(as_text=True)
    assert 'id="expected"' in page and 'data-event="out-1"' in page
    assert f'data-micros="{total["micros"]}"' in page
    assert "No earnings yet" in page  # the balance section: nothing is owed yet
