"""A payout run that fails half-way ends ``failed`` with its reason, and one failure stops nobody else.

Before: an exception anywhere in a run (one payout's provider call, a hold
that overflowed) escaped ``run_payouts``, left the run ``running`` forever and
left every creator after the failing one unpaid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Payout, PayoutAccount, PayoutRun
from hitrack.payments.base import TransferRequest, TransferResult
from hitrack.services import ledger, payouts
from tests.factories import (
    MINIMUMS,
    Crash,
    CrashAfterSend,
    ScriptedProvider,
    connect,
    fund,
    make_person,
    usd,
)


class RaisesFor(ScriptedProvider):
    """Stripe-like, except that the transfer of one creator raises (a bug, a library error)."""

    def __init__(self, creator: Creator) -> None:
        super().__init__()
        self.creator_id = str(creator.id)

    def send_transfer(self, request: TransferRequest) -> TransferResult:
        if request.metadata["creator_id"] == self.creator_id:
            self.calls += 1
            raise RuntimeError("TLS handshake blew up inside the client library")
        return super().send_transfer(request)


@pytest.fixture
def three(db: Session) -> tuple[Creator, list[Creator]]:
    admin = make_person(db, "Admin", admin=True)
    people = [make_person(db, name) for name in ("Ana", "Bo", "Cy")]
    for i, person in enumerate(people):
        connect(db, person)
        fund(db, person, usd(20 + i))
    return admin, people


def test_a_payout_whose_provider_call_raises_stays_pending_and_the_others_are_paid(
    db: Session, three: tuple[Creator, list[Creator]]
) -> None:
    admin, (ana, bo, cy) = three
    provider = RaisesFor(bo)

    run = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)

    by_creator = {p.creator_id: p for p in run.payouts}
    assert [by_creator[c.id].status for c in (ana, bo, cy)] == ["paid", "pending", "paid"]
    reason = by_creator[bo.id].failure_reason
    assert "RuntimeError: TLS handshake blew up" in reason and "reconcile" in reason
    # Nobody knows whether Bo's money moved: it stays held until reconcile asks the provider.
    assert ledger.held_balances(db, bo.id) == {"USD": usd(21)}
    assert run.status == "awaiting" and run.finished_at is not None
    assert run.summary["counts"] == {"paid": 2, "pending": 1}
    assert ledger.check_invariants(db) == []

    summary = payouts.reconcile(
        db, provider, min_age=timedelta(0), now=datetime.now(UTC) + timedelta(minutes=1)
    )
    assert summary.failed == 1  # the provider holds no transfer: the hold goes back
    assert ledger.creator_balances(db, bo.id) == {"USD": usd(21)}
    again = payouts.run_payouts(db, ScriptedProvider(), started_by=admin, minimums=MINIMUMS)
    assert [(p.creator_id, p.status) for p in again.payouts] == [(bo.id, "paid")]


def test_a_payout_that_cannot_be_sent_is_voided_with_its_reason_and_the_others_are_paid(
    db: Session, three: tuple[Creator, list[Creator]]
) -> None:
    admin, (ana, bo, cy) = three
    provider = ScriptedProvider()

    def account_disappears(done: int, _total: int) -> None:
        if done == 0:  # every hold is made; nothing is sent yet
            db.delete(
                db.scalars(select(PayoutAccount).where(PayoutAccount.creator_id == bo.id)).one()
            )
            db.commit()

    run = payouts.run_payouts(
        db, provider, started_by=admin, minimums=MINIMUMS, progress=account_disappears
    )

    by_creator = {p.creator_id: p for p in run.payouts}
    assert [by_creator[c.id].status for c in (ana, bo, cy)] == ["paid", "failed", "paid"]
    assert by_creator[bo.id].failure_reason.startswith("not sent: NotFound: ")
    assert ledger.creator_balances(db, bo.id) == {"USD": usd(21)}  # back in the balance
    assert provider.calls == 2
    assert run.status == "finished"
    assert ledger.check_invariants(db) == []


def test_a_run_that_crashes_ends_failed_with_its_reason(
    db: Session, three: tuple[Creator, list[Creator]]
) -> None:
    admin, (ana, bo, cy) = three
    seen: list[int] = []

    def terminal_gone(done: int, _total: int) -> None:
        seen.append(done)
        if done == 1:
            raise OSError("the terminal showing the progress bar went away")

    # Progress is reported per batch: batches of one make it crash after the first payout.
    run = payouts.run_payouts(
        db,
        ScriptedProvider(),
        started_by=admin,
        minimums=MINIMUMS,
        progress=terminal_gone,
        batch_size=1,
    )

    assert seen == [0, 1]
    stored = db.scalars(select(PayoutRun)).one()
    assert stored.id == run.id and stored.status == "failed" and stored.finished_at is not None
    assert stored.failure_reason == "OSError: the terminal showing the progress bar went away"
    assert stored.summary["counts"] == {"paid": 1, "pending": 2}
    assert "FAILED: OSError" in payouts.run_summary_line(stored)
    # The payouts it held are not lost: the next run reconciles them (the
    # scripted provider holds no transfer for them, so they are voided) and pays.
    later = datetime.now(UTC) + payouts.SETTLE_GRACE + timedelta(minutes=1)
    again = payouts.run_payouts(
        db, ScriptedProvider(), started_by=admin, minimums=MINIMUMS, now=later
    )
    assert sorted(p.creator_id for p in again.payouts) == sorted([bo.id, cy.id])
    assert ledger.check_invariants(db) == []


def test_an_interrupted_run_is_recorded_as_failed_and_the_interruption_goes_on(
    db: Session, three: tuple[Creator, list[Creator]]
) -> None:
    admin, _people = three
    with pytest.raises(Crash):
        payouts.run_payouts(
            db, CrashAfterSend(ScriptedProvider()), started_by=admin, minimums=MINIMUMS
        )
    run = db.scalars(select(PayoutRun)).one()
    assert run.status == "failed"
    assert (
        run.failure_reason
        == "interrupted: Crash: killed between the transfer and the database commit"
    )


def test_a_run_whose_process_died_is_closed_as_failed_by_the_next_reconcile(
    db: Session, three: tuple[Creator, list[Creator]]
) -> None:
    admin, people = three
    provider = ScriptedProvider()
    started = datetime.now(UTC)
    # The process holds every payout, then dies before sending or finishing.
    dead = payouts.open_run(db, provider, started_by=admin, minimums=MINIMUMS, now=started)
    assert dead.status == "running"

    payouts.reconcile(db, provider, now=started + payouts.SETTLE_GRACE / 2)
    assert db.get(PayoutRun, dead.id).status == "running"  # type: ignore[union-attr]  # may still be going

    payouts.reconcile(db, provider, now=started + payouts.SETTLE_GRACE + timedelta(minutes=1))
    closed = db.get(PayoutRun, dead.id)
    assert closed is not None and closed.status == "failed"
    assert closed.failure_reason.startswith("interrupted: no progress for 10 minutes")
    # Its holds were reconciled in the same call: no transfer exists, so the money is back.
    assert {(p.status, p.failure_reason) for p in db.scalars(select(Payout))} == {
        ("failed", "the provider holds no transfer for this payout")
    }
    assert all(ledger.held_balances(db, c.id) == {} for c in people)
