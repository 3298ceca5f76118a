"""Stripe's payout webhooks: accounts, reversals, bank failures, disconnects; each event once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    LedgerTransaction,
    Notification,
    Payout,
    PayoutAccount,
    WebhookEvent,
)
from hitrack.payments import StripeConnectProvider
from hitrack.services import ledger, payouts, statements, webhooks
from tests.factories import MINIMUMS, fund, make_person, usd
from tests.fake_stripe import FakeStripe


def receiver(db: Session, provider: StripeConnectProvider) -> Callable[[bytes, str], int]:
    """What POST /webhooks/stripe does, without HTTP: verify, store, handle."""

    def receive(payload: bytes, signature: str) -> int:
        webhooks.handle_event(db, "stripe", provider.parse_webhook(payload, signature))
        return 200

    return receive


def notes(db: Session, creator: Creator) -> list[Notification]:
    return list(
        db.scalars(
            select(Notification)
            .where(Notification.creator_id == creator.id)
            .order_by(Notification.id)
        )
    )


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def setup(db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider):  # type: ignore[no-untyped-def]
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    row = payouts.connect_account(db, stripe_provider, ana)
    fake_stripe.advance(seconds=5)
    fake_stripe.complete_onboarding(row.provider_account_id)
    fake_stripe.deliver(to=receiver(db, stripe_provider))
    assert row.payable
    return admin, ana, row


def test_account_updated_marks_the_account_payable_and_not_payable_again(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    _, ana, row = setup
    assert row.status_reason == "payouts enabled"
    fake_stripe.advance(seconds=5)
    fake_stripe.disable_payouts(row.provider_account_id)
    fake_stripe.deliver(to=receiver(db, stripe_provider))
    assert not row.payable and "individual.verification.document" in row.status_reason
    assert [n.kind for n in notes(db, ana)] == ["payout_account", "payout_account"]
    assert payouts.candidates(db, "stripe", MINIMUMS) == []


def test_out_of_order_account_updates_keep_the_newest_state(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    ana = make_person(db, "Ana")
    row = payouts.connect_account(db, stripe_provider, ana)
    fake_stripe.advance(seconds=5)
    fake_stripe.complete_onboarding(row.provider_account_id)
    fake_stripe.advance(seconds=5)
    fake_stripe.disable_payouts(row.provider_account_id)
    deliveries = fake_stripe.deliver(to=receiver(db, stripe_provider), order="reversed")
    assert [d.type for d in deliveries] == ["account.updated", "account.updated"]
    assert not row.payable  # the older "enabled" arrived last and was ignored
    statuses = db.scalars(select(WebhookEvent.status).order_by(WebhookEvent.id)).all()
    assert statuses == ["processed", "ignored"]


def test_two_updates_in_the_same_second_stay_on_the_safe_side(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    ana = make_person(db, "Ana")
    row = payouts.connect_account(db, stripe_provider, ana)
    fake_stripe.advance(seconds=5)
    fake_stripe.complete_onboarding(row.provider_account_id)
    fake_stripe.disable_payouts(row.provider_account_id)  # same second
    fake_stripe.deliver(to=receiver(db, stripe_provider), order="reversed")
    assert not row.payable


def test_a_reversed_transfer_returns_the_money_to_the_creator_once(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    admin, ana, _ = setup
    fund(db, ana, usd("30.005"))
    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    [payout] = run.payouts
    assert ledger.creator_balances(db, ana.id) == {"USD": 5_000}
    fake_stripe.deliver(to=receiver(db, stripe_provider))  # transfer.created: not ours to handle

    fake_stripe.reverse_transfer(payout.provider_transfer_id, 1000)  # 10.00 of 30.00 back
    fake_stripe.deliver(to=receiver(db, stripe_provider), duplicate=True)
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(10) + 5_000}
    assert payout.status == "paid" and "10.00 of 30.00" in payout.failure_reason

    fake_stripe.reverse_transfer(payout.provider_transfer_id)  # the rest
    fake_stripe.deliver(to=receiver(db, stripe_provider), duplicate=True)
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(30) + 5_000}
    assert payout.status == "reversed"
    assert ledger.balance(db, ledger.paid_out_account("USD")) == 0
    reversals = db.scalars(
        select(LedgerTransaction).where(LedgerTransaction.kind == "payout_reversal")
    ).all()
    assert [t.description.split(":")[0] for t in reversals] == [
        f"Transfer {payout.provider_transfer_id} reversed"
    ] * 2
    assert ledger.check_invariants(db) == []

    # Visible to the creator: notifications and the ledger lines behind the balance.
    assert [n.kind for n in notes(db, ana)][-2:] == ["payout_reversed", "payout_reversed"]
    assert "back in your balance" in notes(db, ana)[-1].message
    assert any(n.kind == "payout_reversed" for n in notes(db, admin))
    assert statements.earnings(db, ana.id).balances == {"USD": usd(30) + 5_000}
    # Every event id was handled once although each arrived twice.
    assert count(db, WebhookEvent) == len(fake_stripe.events())

    # The balance is paid again by the next run, under a new key.
    again = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    assert [p.amount for p in again.payouts] == [usd(30)]


def test_an_old_partial_reversal_arriving_late_returns_nothing_more(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    admin, ana, _ = setup
    fund(db, ana, usd(30))
    [payout] = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS).payouts
    fake_stripe.reverse_transfer(payout.provider_transfer_id, 1000)
    fake_stripe.reverse_transfer(payout.provider_transfer_id, 500)
    fake_stripe.deliver(to=receiver(db, stripe_provider), order="reversed")
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(15)}
    assert ledger.check_invariants(db) == []


def test_a_reversal_of_a_payout_still_pending_settles_it_first(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    admin, ana, _ = setup
    fund(db, ana, usd(30))
    fake_stripe.fail_next("transfer_500_after_create")
    [payout] = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS).payouts
    assert payout.status == "pending"
    [transfer] = fake_stripe.transfers()
    fake_stripe.reverse_transfer(transfer["id"])
    fake_stripe.deliver(to=receiver(db, stripe_provider))
    assert payout.status == "reversed" and payout.provider_transfer_id == transfer["id"]
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(30)}
    assert ledger.held_balances(db, ana.id) == {}
    assert payouts.reconcile(db, stripe_provider, min_age=timedelta(0)).checked == 0
    assert ledger.check_invariants(db) == []


def test_a_failed_transfer_returns_the_money_visibly(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    admin, ana, _ = setup
    fund(db, ana, usd(30))
    fake_stripe.fail_next("insufficient_balance")
    [payout] = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS).payouts
    assert payout.status == "failed"
    assert statements.earnings(db, ana.id).balances == {"USD": usd(30)}
    assert payouts.payouts_for(db, ana.id)[0].failure_reason.startswith("transfer rejected")
    assert notes(db, ana)[-1].kind == "payout_failed"


def test_a_failed_bank_payout_pauses_the_account_without_paying_twice(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    admin, ana, row = setup
    fund(db, ana, usd(30))
    payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    transactions = count(db, LedgerTransaction)
    fake_stripe.fail_payout(row.provider_account_id, 3000)
    fake_stripe.deliver(to=receiver(db, stripe_provider), duplicate=True)
    assert not row.payable and "account_closed" in row.status_reason
    # The money sits in the creator's Stripe balance; the ledger does not move.
    assert count(db, LedgerTransaction) == transactions
    assert ledger.creator_balances(db, ana.id) == {"USD": 0}
    assert [n.kind for n in notes(db, ana)].count("payout_failed") == 1
    assert "Stripe balance" in notes(db, ana)[-1].message
    assert any(n.kind == "payout_failed" for n in notes(db, admin))


def test_a_disconnected_account_is_never_paid_again(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, setup
) -> None:  # type: ignore[no-untyped-def]
    admin, ana, row = setup
    fund(db, ana, usd(30))
    fake_stripe.fail_next("transfer_500_before_create")
    [payout] = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS).payouts
    fake_stripe.deauthorize(row.provider_account_id)
    fake_stripe.deliver(to=receiver(db, stripe_provider), duplicate=True)
    assert not row.payable and "disconnected" in row.status_reason
    assert any(n.kind == "payout_account" for n in notes(db, admin))
    # The pending payout never reached Stripe: reconcile voids it, the money stays here.
    payouts.reconcile(db, stripe_provider, min_age=timedelta(0))
    assert payout.status == "failed" and ledger.creator_balances(db, ana.id) == {"USD": usd(30)}
    assert (
        payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS).payouts == []
    )
    # A late "enabled" update from before the disconnect cannot revive it.
    stale = fake_stripe.state.emit(
        "account.updated",
        {**fake_stripe.state.accounts[row.provider_account_id], "payouts_enabled": True},
    )
    stale["created"] -= 60
    fake_stripe.deliver(to=receiver(db, stripe_provider))
    assert not db.get(PayoutAccount, row.id).payable  # type: ignore[union-attr]
    # Connecting again makes a new Stripe account rather than reusing the disconnected one.
    old_account = row.provider_account_id
    again = payouts.connect_account(db, stripe_provider, ana)
    assert again.id == row.id and again.provider_account_id != old_account and not again.payable
    fake_stripe.complete_onboarding(again.provider_account_id)
    fake_stripe.deliver(to=receiver(db, stripe_provider))
    assert db.get(PayoutAccount, row.id).payable  # type: ignore[union-attr]


def test_events_for_unknown_accounts_and_transfers_are_ignored(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    other = stripe_provider.create_account(creator_id="elsewhere", email="x@example.test")
    fake_stripe.complete_onboarding(other.provider_account_id)
    fake_stripe.fail_payout(other.provider_account_id, 100)
    fake_stripe.emit(
        "transfer.reversed",
        {"id": "tr_x", "amount": 100, "amount_reversed": 100, "metadata": {"payout_id": "999999"}},
    )
    fake_stripe.deliver(to=receiver(db, stripe_provider))
    assert set(db.scalars(select(WebhookEvent.status))) == {"ignored"}
    assert count(db, Payout) == 0
