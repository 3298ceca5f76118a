"""Payout defects found by use: a run's summary after marks, the statement of a paid payout,
and balances in a currency without a minimum."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from hitrack.payments import ManualProvider
from hitrack.services import payouts, statements
from tests.factories import MINIMUMS, connect, fund, make_person, usd


def manual_run(db: Session):  # type: ignore[no-untyped-def]
    admin, ana, bo = (make_person(db, n, admin=n == "Admin") for n in ("Admin", "Ana", "Bo"))
    for person in (ana, bo):
        connect(db, person, "manual")
    fund(db, ana, usd("12.34"))
    fund(db, bo, usd("20.00"))
    run = payouts.run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    return admin, ana, bo, run


def test_a_run_s_summary_follows_the_marks(db: Session) -> None:
    admin, ana, bo, run = manual_run(db)
    assert run.status == "awaiting" and run.summary["counts"] == {"pending": 2}
    ana_payout, bo_payout = sorted(run.payouts, key=lambda p: p.creator_id)
    payouts.mark_manual(db, admin, ana_payout.id, paid=True, note="SEPA 1")
    db.refresh(run)
    assert run.summary["counts"] == {"paid": 1, "pending": 1} and run.status == "awaiting"
    assert "1 paid, 1 pending" in payouts.run_summary_line(run)
    payouts.mark_manual(db, admin, bo_payout.id, paid=False, note="account closed")
    db.refresh(run)
    assert run.summary["counts"] == {"paid": 1, "failed": 1} and run.status == "finished"
    assert run.summary["amounts"]["paid"] == {"USD": usd("12.34")}


def test_the_statement_says_a_paid_payout_was_paid_not_held(db: Session) -> None:
    admin, ana, bo, run = manual_run(db)
    ana_payout, bo_payout = sorted(run.payouts, key=lambda p: p.creator_id)
    today = datetime.now(UTC).date()

    def payout_lines(creator) -> list[str]:  # type: ignore[no-untyped-def]
        [part] = statements.statement(db, creator.id, today, today).currencies
        return [p.description for p in part.payouts]

    assert payout_lines(ana)[0].startswith("Payout 12.34 USD held while the transfer is sent")
    payouts.mark_manual(db, admin, ana_payout.id, paid=True, note="SEPA 1")
    payouts.mark_manual(db, admin, bo_payout.id, paid=False, note="account closed")
    assert payout_lines(ana) == ["Payout of 12.34 USD paid"]
    assert payout_lines(bo)[0] == (
        "Payout of 20.00 USD failed; the amount came back to your balance"
    )
    assert "held" not in " ".join(payout_lines(ana) + payout_lines(bo))


def test_a_balance_in_a_currency_without_a_minimum_is_recorded_on_the_run(db: Session) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    connect(db, ana, "manual")
    fund(db, ana, usd("15.00"), "EUR")
    fund(db, ana, usd("15.00"))
    assert payouts.unpaid_currencies(db, ana.id, MINIMUMS) == ["EUR"]
    run = payouts.run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    assert [p.currency for p in run.payouts] == ["USD"]
    [skipped] = run.summary["skipped"]
    assert skipped["currency"] == "EUR" and skipped["creator_id"] == ana.id
    assert "no payout minimum is set for EUR" in skipped["reason"]
    assert "HITRACK_PAYOUT_MINIMUM" in skipped["reason"]
    assert "1 not paid" in payouts.run_summary_line(run)
    assert payouts.unpaid_currencies(db, ana.id, {**MINIMUMS, "EUR": usd(10)}) == []
