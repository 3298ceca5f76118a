"""Caps: no event and no account total can overflow the 64-bit columns money lives in.

The attack of issue 9: a model's operator reports two events of 2^63 - 1
micros for a model trained on someone else's record. Before the caps both were
accepted; the victim's balance passed 2^63, and their earnings page, ``hitrack
ledger check`` and every payout run broke (SQLite: "integer overflow" on every
sum; PostgreSQL: "bigint out of range" when the run held the payout, leaving
the run ``running`` and the creators after the victim unpaid).
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hitrack.db.models import LedgerAccount, LedgerPosting, LedgerTransaction, RevenueEvent
from hitrack.domain import ledger as rules
from hitrack.domain.errors import InvalidInput
from hitrack.domain.money import MAX_ACCOUNT_MICROS, MAX_EVENT_MICROS
from hitrack.services import ledger, payouts, reports, revenue, statements
from hitrack.services.ledger import Posting
from tests.factories import MINIMUMS, ScriptedProvider, connect, fund, make_person, make_work, usd

INT64_MAX = 2**63 - 1


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def report(db: Session, operator, model, amount: int, key: str):  # type: ignore[no-untyped-def]
    return revenue.record_revenue(
        db,
        operator,
        {"external_id": key, "work": model.public_id, "amount": amount, "currency": "USD"},
        default_fee_rate=Fraction(0),
    )


@pytest.fixture
def attack(db: Session):  # type: ignore[no-untyped-def]
    """Mallory's model cites Vic's record with share 1; By is another creator with money."""
    admin = make_person(db, "Admin", admin=True)
    vic, mallory, by = make_person(db, "Vic"), make_person(db, "Mallory"), make_person(db, "By")
    record = make_work(db, "record", "Shoreline", {vic: 1})
    model = make_work(db, "model", "Wave", {mallory: 1}, {record: "1"})
    connect(db, vic)
    connect(db, by)
    fund(db, by, usd(50))
    return admin, vic, mallory, by, model


def test_two_events_of_2_63_micros_are_refused_and_nothing_breaks(db: Session, attack) -> None:  # type: ignore[no-untyped-def]
    admin, vic, mallory, by, model = attack
    for i in range(2):
        with pytest.raises(InvalidInput, match="above the cap of 1000000000000000 micros"):
            report(db, mallory, model, INT64_MAX, f"big-{i}")
    assert count(db, RevenueEvent) == 0
    assert statements.earnings(db, vic.id).balances == {}
    assert ledger.check_invariants(db) == []
    run = payouts.run_payouts(db, ScriptedProvider(), started_by=admin, minimums=MINIMUMS)
    assert run.status == "finished"
    assert [(p.creator_id, p.status) for p in run.payouts] == [(by.id, "paid")]


def test_events_at_the_cap_are_paid_and_every_reader_copes(db: Session, attack) -> None:  # type: ignore[no-untyped-def]
    admin, vic, mallory, by, model = attack
    # Recorded by an admin: funded on arrival (an operator's own report pays nothing until funded).
    for i in range(3):
        report(db, admin, model, MAX_EVENT_MICROS, f"cap-{i}")
    owed = 3 * MAX_EVENT_MICROS
    assert statements.earnings(db, vic.id).balances == {"USD": owed}
    today = datetime.now(UTC).date()
    [part] = statements.statement(db, vic.id, today, today).currencies
    assert (part.closing, part.earnings_total, part.reconciles) == (owed, owed, True)
    assert ledger.check_invariants(db) == []
    assert reports.ledger_overview(db, None).healthy
    run = payouts.run_payouts(db, ScriptedProvider(), started_by=admin, minimums=MINIMUMS)
    assert sorted((p.creator_id, p.amount, p.status) for p in run.payouts) == sorted(
        [(vic.id, owed, "paid"), (by.id, usd(50), "paid")]
    )


def test_a_transaction_that_would_pass_the_account_cap_is_refused_and_writes_nothing(
    db: Session,
) -> None:
    ana = make_person(db, "Ana")
    fund(db, ana, MAX_ACCOUNT_MICROS)  # exactly at the cap: allowed
    before = (count(db, LedgerTransaction), count(db, LedgerPosting), count(db, LedgerAccount))
    with pytest.raises(InvalidInput, match="beyond the account cap") as refused:
        ledger.post_transaction(
            db,
            "one-more",
            "revenue",
            [
                Posting(ledger.cash_account("EUR"), "EUR", 1),  # a new account, rolled back too
                Posting(ledger.fees_account("EUR"), "EUR", -1),
                Posting(ledger.cash_account("USD"), "USD", 1),
                Posting(ledger.payable_account(ana.id, "USD"), "USD", -1),
            ],
        )
    assert set(refused.value.ids) == {
        ledger.cash_account("USD"),
        ledger.payable_account(ana.id, "USD"),
    }
    assert (count(db, LedgerTransaction), count(db, LedgerPosting), count(db, LedgerAccount)) == (
        before
    )
    assert ledger.creator_balances(db, ana.id) == {"USD": MAX_ACCOUNT_MICROS}
    assert ledger.check_invariants(db) == []


@pytest.mark.parametrize("amount", [MAX_ACCOUNT_MICROS + 1, INT64_MAX])
def test_a_single_posting_beyond_the_cap_is_refused(db: Session, amount: int) -> None:
    ana = make_person(db, "Ana")
    with pytest.raises(InvalidInput, match="beyond the account cap"):
        fund(db, ana, amount)
    assert count(db, LedgerTransaction) == 0 and count(db, LedgerPosting) == 0


def test_running_balances_follow_the_postings(db: Session) -> None:
    ana, bo = make_person(db, "Ana"), make_person(db, "Bo")
    fund(db, ana, usd(30))
    fund(db, bo, usd(12), currency="JPY")
    ledger.post_transaction(
        db, "hold", "payout_hold", ledger.payout_hold_postings(ana.id, "USD", usd(10))
    )
    sums = dict(
        db.execute(
            select(LedgerAccount.code, func.sum(LedgerPosting.amount))
            .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .group_by(LedgerAccount.code)
        ).all()
    )
    running = dict(db.execute(select(LedgerAccount.code, LedgerAccount.balance)).all())
    assert {code: int(total) for code, total in sums.items()} == running
    assert running[ledger.cash_account("USD")] == usd(30)
    assert running[ledger.payout_hold_account(ana.id, "USD")] == -usd(10)


def test_ledger_check_reports_a_running_balance_that_drifted(db: Session) -> None:
    ana = make_person(db, "Ana")
    fund(db, ana, usd(5))
    code = ledger.payable_account(ana.id, "USD")
    db.execute(update(LedgerAccount).where(LedgerAccount.code == code).values(balance=0))
    [breach] = ledger.check_invariants(db)
    assert breach == f"{code}: running balance 0 differs from its postings' sum {-usd(5)}"


def legacy_overflow(db: Session, creator_id: int, times: int = 2) -> str:
    """Postings an earlier version accepted: ``times`` events of 2^63 - 1 for one creator.

    Written below the service (which now refuses them); the running balances
    are left as migration 0005 leaves such accounts: one past the cap.
    """
    payable = ledger.payable_account(creator_id, "USD")
    for n in range(times):
        postings = [
            Posting(ledger.cash_account("USD"), "USD", INT64_MAX),
            Posting(payable, "USD", -INT64_MAX),
        ]
        tx = LedgerTransaction(
            idempotency_key=f"legacy-{n}",
            payload_hash=rules.transaction_hash("revenue", postings),
            kind="revenue",
            description="written before the caps",
        )
        db.add(tx)
        db.flush()
        for p in postings:
            account = ledger.get_account(db, p.account)
            db.add(
                LedgerPosting(
                    transaction_id=tx.id, account_id=account.id, currency="USD", amount=p.amount
                )
            )
    db.flush()
    for code, sign in ((ledger.cash_account("USD"), 1), (payable, -1)):
        db.execute(
            update(LedgerAccount)
            .where(LedgerAccount.code == code)
            .values(balance=sign * (MAX_ACCOUNT_MICROS + 1))
        )
    db.commit()
    return payable


def test_a_ledger_that_overflowed_before_the_caps_still_reads_and_pays_the_others(
    db: Session, attack
) -> None:  # type: ignore[no-untyped-def]
    admin, vic, _mallory, by, _model = attack
    payable = legacy_overflow(db, vic.id)

    # The victim's earnings page and the ledger check read it (and say what is wrong).
    assert statements.earnings(db, vic.id).balances == {"USD": MAX_ACCOUNT_MICROS + 1}
    breaches = ledger.check_invariants(db)
    assert (
        f"{payable}: balance {-2 * INT64_MAX} micros is beyond the account cap of {MAX_ACCOUNT_MICROS}"
        in breaches
    )
    assert not reports.ledger_overview(db, None).healthy

    # A payout run still pays everybody else, and says why the victim was not paid.
    run = payouts.run_payouts(db, ScriptedProvider(), started_by=admin, minimums=MINIMUMS)
    assert run.status == "finished"
    assert [(p.creator_id, p.status) for p in run.payouts] == [(by.id, "paid")]
    [skipped] = run.summary["skipped"]
    assert skipped["creator_id"] == vic.id and "beyond the account cap" in skipped["reason"]
    assert "1 not paid" in payouts.run_summary_line(run)

    # And no new money can land on the account.
    with pytest.raises(InvalidInput, match="beyond the account cap"):
        fund(db, vic, 1)
