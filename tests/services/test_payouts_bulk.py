"""Payout runs in bulk: the same payouts, holds and ledger as one at a time, in few round trips."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import LedgerTransaction, Payout
from hitrack.payments import ManualProvider
from hitrack.services import ledger, payouts
from hitrack.services.payouts import run_payouts
from tests.factories import MINIMUMS, ScriptedProvider, connect, fund, make_person, usd


def test_a_bulk_run_holds_every_verified_balance_once_and_leaves_the_rest(db: Session) -> None:
    admin = make_person(db, "Admin", admin=True)
    paid = []
    for n in range(7):
        creator = make_person(db, f"P{n}")
        fund(db, creator, usd(20) + 4_321)  # a sub-cent remainder stays
        connect(db, creator, "manual")
        paid.append(creator)
    unverified = make_person(db, "Unverified")
    fund(db, unverified, usd(50))
    connect(db, unverified, "manual", payable=False)
    small = make_person(db, "Small")
    fund(db, small, usd(2))
    connect(db, small, "manual")

    run = run_payouts(
        db, ManualProvider(), started_by=admin, minimums=MINIMUMS, batch_size=3, max_workers=4
    )

    assert run.status == "awaiting"
    rows = db.scalars(select(Payout).where(Payout.run_id == run.id)).all()
    assert sorted(p.creator_id for p in rows) == sorted(c.id for c in paid)
    assert {p.status for p in rows} == {"pending"}
    assert {p.failure_reason for p in rows} == {"awaiting manual payment"}
    assert all(p.amount == usd(20) and p.hold_transaction_id for p in rows)
    for creator in paid:
        assert ledger.creator_balances(db, creator.id) == {"USD": 4_321}
        assert ledger.held_balances(db, creator.id) == {"USD": usd(20)}
    assert ledger.creator_balances(db, unverified.id) == {"USD": usd(50)}
    assert ledger.check_invariants(db) == []
    # The admin marks them paid as with any manual run.
    payouts.mark_manual(db, admin, rows[0].id, paid=True, note="bank-1")
    assert ledger.held_balances(db, rows[0].creator_id) in ({}, {"USD": 0})


def test_a_second_run_holds_nothing_twice(db: Session) -> None:
    admin = make_person(db, "Admin", admin=True)
    creator = make_person(db, "Ana")
    fund(db, creator, usd(30))
    connect(db, creator, "manual")
    first = run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    resumed = run_payouts(
        db, ManualProvider(), started_by=admin, minimums=MINIMUMS, run_id=first.public_id
    )
    again = run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    assert resumed.id == first.id
    holds = db.scalar(select(func.count()).where(LedgerTransaction.kind == "payout_hold"))
    assert holds == 1
    assert db.scalar(select(func.count()).where(Payout.run_id == again.id)) == 0
    assert ledger.check_invariants(db) == []


def test_sent_transfers_are_paid_and_failed_ones_go_back_to_the_balance(db: Session) -> None:
    admin = make_person(db, "Admin", admin=True)
    people = [make_person(db, name) for name in ("Ana", "Bo", "Cy")]
    for creator in people:
        fund(db, creator, usd(15))
        connect(db, creator, "stripe")
    provider = ScriptedProvider(answers=["sent", "failed", "unknown_sent"])
    run = run_payouts(db, provider, started_by=admin, minimums=MINIMUMS, max_workers=1)
    by_creator = {
        p.creator_id: p for p in db.scalars(select(Payout).where(Payout.run_id == run.id))
    }
    ana, bo, cy = (by_creator[c.id] for c in people)
    assert (ana.status, bo.status, cy.status) == ("paid", "failed", "pending")
    assert ledger.creator_balances(db, people[0].id) in ({}, {"USD": 0})
    assert ledger.creator_balances(db, people[1].id) == {"USD": usd(15)}
    assert ledger.held_balances(db, people[2].id) == {"USD": usd(15)}
    assert provider.calls == 3
    # The lost answer is settled by reconcile from the provider's records, never resent.
    payouts.reconcile(db, provider, now=run.started_at + payouts.SETTLE_GRACE * 2)
    db.refresh(cy)
    assert cy.status == "paid" and provider.calls == 3
    assert ledger.check_invariants(db) == []
