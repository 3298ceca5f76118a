"""Reconciliation: a crash or a lost answer between the transfer and the commit never pays twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, LedgerTransaction, Payout
from hitrack.payments import ManualProvider, StripeConnectProvider
from hitrack.services import ledger, payouts
from tests.factories import MINIMUMS, Crash, CrashAfterSend, connect, fund, make_person, usd
from tests.fake_stripe import FakeStripe

NOW = timedelta(0)


@pytest.fixture
def people(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> tuple[Creator, Creator]:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    row = payouts.connect_account(db, stripe_provider, ana)
    fake_stripe.complete_onboarding(row.provider_account_id)
    payouts.refresh_account(db, stripe_provider, ana)
    fund(db, ana, usd("42.424242"))
    return admin, ana


def transfer_posts(fake: FakeStripe) -> list[dict[str, object]]:
    return [r for r in fake.request_log if (r["method"], r["path"]) == ("POST", "/v1/transfers")]


def crash_a_run(db: Session, provider: StripeConnectProvider, admin: Creator) -> Payout:
    with pytest.raises(Crash):
        payouts.run_payouts(db, CrashAfterSend(provider), started_by=admin, minimums=MINIMUMS)
    db.rollback()  # what a restarted process starts from: only what was committed
    return db.scalars(select(Payout)).one()


def assert_paid_once(db: Session, fake: FakeStripe, payout: Payout, creator: Creator) -> None:
    assert payout.status == "paid"
    [transfer] = fake.transfers()
    assert payout.provider_transfer_id == transfer["id"] and transfer["amount"] == 4242
    assert ledger.held_balances(db, creator.id) == {}
    assert ledger.creator_balances(db, creator.id) == {"USD": 4_242}
    assert ledger.balance(db, ledger.paid_out_account("USD")) == -usd("42.42")
    paid = db.scalars(
        select(LedgerTransaction).where(LedgerTransaction.kind == "payout_paid")
    ).all()
    assert len(paid) == 1
    assert ledger.check_invariants(db) == []


def test_crash_between_the_transfer_and_the_commit_then_reconcile_pays_exactly_once(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    people: tuple[Creator, Creator],
) -> None:
    admin, ana = people
    payout = crash_a_run(db, stripe_provider, admin)
    assert payout.status == "pending" and len(fake_stripe.transfers()) == 1
    assert ledger.held_balances(db, ana.id) == {"USD": usd("42.42")}

    # A payout whose run may still be sending it is left alone...
    assert payouts.reconcile(db, stripe_provider).checked == 0
    # ...and settled once it is older than the grace period.
    summary = payouts.reconcile(db, stripe_provider, min_age=NOW)
    assert (summary.checked, summary.paid) == (1, 1)
    assert_paid_once(db, fake_stripe, db.get(Payout, payout.id), ana)  # type: ignore[arg-type]
    assert len(transfer_posts(fake_stripe)) == 1  # looked up, never sent again

    assert payouts.reconcile(db, stripe_provider, min_age=NOW).checked == 0
    again = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    assert again.payouts == [] and len(fake_stripe.transfers()) == 1


def test_after_stripe_forgot_the_idempotency_key_reconcile_still_finds_the_transfer(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    people: tuple[Creator, Creator],
) -> None:
    admin, ana = people
    payout = crash_a_run(db, stripe_provider, admin)
    fake_stripe.advance(hours=25)  # Stripe keeps idempotency keys for 24 hours

    summary = payouts.reconcile(db, stripe_provider, min_age=NOW)

    assert summary.paid == 1
    assert_paid_once(db, fake_stripe, db.get(Payout, payout.id), ana)  # type: ignore[arg-type]
    assert len(transfer_posts(fake_stripe)) == 1


def test_the_next_run_reconciles_what_the_last_one_left_pending(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    people: tuple[Creator, Creator],
) -> None:
    admin, ana = people
    payout = crash_a_run(db, stripe_provider, admin)
    fake_stripe.advance(hours=25)
    later = datetime.now(UTC) + payouts.SETTLE_GRACE + timedelta(minutes=1)
    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS, now=later)
    assert run.payouts == []
    assert_paid_once(db, fake_stripe, db.get(Payout, payout.id), ana)  # type: ignore[arg-type]


def test_a_transfer_that_never_reached_the_provider_is_voided_and_paid_by_the_next_run(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    people: tuple[Creator, Creator],
) -> None:
    admin, ana = people
    fake_stripe.fail_next("transfer_500_before_create")
    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    [payout] = run.payouts
    assert payout.status == "pending" and fake_stripe.transfers() == []

    summary = payouts.reconcile(db, stripe_provider, min_age=NOW)

    assert (summary.checked, summary.failed) == (1, 1)
    assert payout.status == "failed" and "no transfer" in payout.failure_reason
    assert ledger.creator_balances(db, ana.id) == {"USD": usd("42.424242")}
    again = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    assert [p.status for p in again.payouts] == ["paid"] and len(fake_stripe.transfers()) == 1
    assert ledger.check_invariants(db) == []


def test_a_timeout_is_pending_until_reconciled(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    people: tuple[Creator, Creator],
) -> None:
    admin, ana = people
    fake_stripe.fail_next("timeout", seconds=1.5)
    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    [payout] = run.payouts
    assert payout.status == "pending" and "no answer" in payout.failure_reason
    payouts.reconcile(db, stripe_provider, min_age=NOW)
    assert_paid_once(db, fake_stripe, payout, ana)


def test_a_second_reconciler_cannot_post_twice(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    people: tuple[Creator, Creator],
) -> None:
    admin, ana = people
    payout = crash_a_run(db, stripe_provider, admin)
    found = stripe_provider.find_transfer(
        transfer_group=payout.run.public_id, payout_id=str(payout.id)
    )
    assert found is not None
    payouts.apply_result(db, payout, found)
    payouts.apply_result(db, payout, found)  # a late duplicate answer
    assert_paid_once(db, fake_stripe, payout, ana)


def test_manual_payouts_stay_pending_for_the_admin(db: Session) -> None:
    admin, bo = make_person(db, "Admin", admin=True), make_person(db, "Bo")
    connect(db, bo, "manual", account_id=f"manual:{bo.id}")
    fund(db, bo, usd(15))
    run = payouts.run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    summary = payouts.reconcile(db, ManualProvider(), min_age=NOW)
    assert (summary.checked, summary.pending) == (1, 1)
    assert [p.status for p in run.payouts] == ["pending"]
