"""A production sold through Stripe Checkout becomes one revenue event, whatever the deliveries."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import RevenueEvent, WebhookEvent
from hitrack.services import ledger
from hitrack.settings import Settings
from tests.factories import Song, make_song
from tests.fake_stripe.server import FakeStripe


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return dataclasses.replace(
        settings,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_secret_key=fake_stripe.secret_key,
        stripe_api_base=fake_stripe.api_base,
    )


@pytest.fixture
def song(app_db: Session) -> Song:
    return make_song(app_db)


def checkout(fake: FakeStripe, song: Song, cents: int = 1999, quantity: int = 1) -> str:
    """A customer buys Night Swim through Checkout (via the real stripe library)."""
    client = stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.api_base})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "http://x/ok",
            "cancel_url": "http://x/no",
            "metadata": {"work": song.night_swim.public_id},
            "line_items": [
                {
                    "quantity": quantity,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": cents,
                        "product_data": {"name": "Night Swim"},
                    },
                }
            ],
        }
    )
    fake.complete_checkout(session.id)
    return session.id


def post_to(client: FlaskClient) -> Callable[[bytes, str], int]:
    def post(payload: bytes, signature: str) -> int:
        return client.post(
            "/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        ).status_code

    return post


def counts(db: Session) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(RevenueEvent)) or 0,
        db.scalar(select(func.count()).select_from(WebhookEvent)) or 0,
    )


def test_a_paid_checkout_becomes_a_revenue_event(
    client: FlaskClient, fake_stripe: FakeStripe, song: Song, app_db: Session
) -> None:
    session_id = checkout(fake_stripe, song, cents=1999, quantity=2)
    [delivery] = fake_stripe.deliver(to=post_to(client))
    assert delivery.ok
    event = app_db.scalars(select(RevenueEvent)).one()
    assert (event.external_id, event.origin, event.amount, event.currency) == (
        f"stripe:{session_id}",
        "stripe",
        3998 * 10_000,
        "USD",
    )
    assert app_db.scalars(select(WebhookEvent)).one().status == "processed"
    assert ledger.check_invariants(app_db) == []


def test_replayed_three_times_and_out_of_order_gives_one_event_per_sale(
    client: FlaskClient, fake_stripe: FakeStripe, song: Song, app_db: Session
) -> None:
    checkout(fake_stripe, song, cents=500)
    checkout(fake_stripe, song, cents=700)
    fake_stripe.emit("customer.created", {"id": "cus_1", "object": "customer"})
    post = post_to(client)
    events = fake_stripe.pending_events()
    for event in reversed(events):  # newest first
        for _ in range(3):
            payload, signature = fake_stripe.signed(event)
            assert post(payload, signature) == 200
    assert counts(app_db) == (2, 3)
    statuses = {row.type: row.status for row in app_db.scalars(select(WebhookEvent))}
    assert statuses == {"checkout.session.completed": "processed", "customer.created": "ignored"}
    assert sorted(e.amount for e in app_db.scalars(select(RevenueEvent))) == [
        500 * 10_000,
        700 * 10_000,
    ]
    # Stripe's own retries of the same deliveries change nothing either.
    fake_stripe.deliver(to=post, order="reversed", duplicate=True)
    assert counts(app_db) == (2, 3)


@pytest.mark.parametrize(
    "attack", ["tampered body", "wrong secret", "stale timestamp", "no signature"]
)
def test_unauthentic_deliveries_are_400_and_write_nothing(
    client: FlaskClient, fake_stripe: FakeStripe, song: Song, app_db: Session, attack: str
) -> None:
    checkout(fake_stripe, song)
    [event] = fake_stripe.pending_events()
    if attack == "wrong secret":
        payload, signature = fake_stripe.signed(event, secret="whsec_not_the_right_one")
    elif attack == "stale timestamp":
        payload, signature = fake_stripe.signed(event, timestamp=int(time.time()) - 3600)
    else:
        payload, signature = fake_stripe.signed(event)
    if attack == "tampered body":
        payload = payload.replace(b'"amount_total": 1999', b'"amount_total": 999999')
        assert b"999999" in payload
    if attack == "no signature":
        signature = ""
    assert post_to(client)(payload, signature) == 400
    assert counts(app_db) == (0, 0)


def test_a_checkout_for_a_work_that_cannot_earn_is_stored_as_failed(
    client: FlaskClient, fake_stripe: FakeStripe, song: Song, app_db: Session
) -> None:
    song.night_swim.status = "proposed"
    app_db.commit()
    checkout(fake_stripe, song)
    assert all(d.status == 200 for d in fake_stripe.deliver(to=post_to(client)))
    row = app_db.scalars(select(WebhookEvent)).one()
    assert row.status == "failed" and "finalized" in row.error
    assert counts(app_db) == (0, 1)


def test_without_a_signing_secret_the_endpoint_is_404(app: Flask, settings: Settings) -> None:
    from hitrack.web import create_app

    bare = create_app(dataclasses.replace(settings, stripe_webhook_secret=None))
    response = bare.test_client().post(
        "/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "x"}
    )
    assert response.status_code == 404
    assert "not configured" in response.get_json()["error"]["message"]
