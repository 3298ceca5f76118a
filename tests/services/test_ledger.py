"""The stored ledger: idempotent balanced transactions, append-only rows, balances, invariants."""

from __future__ import annotations

import uuid
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hitrack.db.models import LedgerAccount, LedgerPosting, LedgerTransaction, RevenueEvent
from hitrack.domain.errors import IdempotencyConflict, InvalidInput, LedgerImbalance
from hitrack.services import ledger, revenue
from hitrack.services.ledger import Posting
from hitrack.services.unit_of_work import unit_of_work
from tests.factories import make_person, make_song, usd

CASH, FEES = ledger.cash_account("USD"), ledger.fees_account("USD")


def fund(db: Session, creator_id: int, amount: int, key: str = "fund") -> LedgerTransaction:
    with unit_of_work(db):
        return ledger.post_transaction(
            db,
            key,
            "revenue",
            [
                Posting(CASH, "USD", amount),
                Posting(ledger.payable_account(creator_id, "USD"), "USD", -amount),
            ],
        )


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_balanced_transaction_moves_balances(db: Session) -> None:
    ana = make_person(db, "Ana")
    tx = fund(db, ana.id, usd(12))
    assert tx.kind == "revenue" and len(tx.postings) == 2
    assert ledger.balance(db, CASH) == usd(12)
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(12)}
    assert {a.code: a.kind for a in db.scalars(select(LedgerAccount))}.items() >= {
        CASH: "platform_cash",
        f"creator:{ana.id}:payable:USD": "creator_payable",
    }.items()


def test_the_same_key_and_payload_returns_the_original(db: Session) -> None:
    ana = make_person(db, "Ana")
    first = fund(db, ana.id, usd(1))
    again = fund(db, ana.id, usd(1))
    assert again.id == first.id
    assert count(db, LedgerTransaction) == 1 and ledger.balance(db, CASH) == usd(1)


def test_the_same_key_with_another_payload_is_a_conflict(db: Session) -> None:
    ana = make_person(db, "Ana")
    fund(db, ana.id, usd(1))
    with pytest.raises(IdempotencyConflict):
        fund(db, ana.id, usd(2))
    assert count(db, LedgerTransaction) == 1


def test_an_unbalanced_transaction_is_refused_and_nothing_is_written(db: Session) -> None:
    with pytest.raises(LedgerImbalance):
        ledger.post_transaction(
            db, "bad", "revenue", [Posting(CASH, "USD", 5), Posting(FEES, "USD", -4)]
        )
    assert count(db, LedgerTransaction) == 0 and count(db, LedgerPosting) == 0


def test_an_unknown_account_code_is_refused(db: Session) -> None:
    with pytest.raises(InvalidInput, match="unknown ledger account"):
        ledger.post_transaction(
            db, "bad", "revenue", [Posting("bank:x", "USD", 5), Posting(FEES, "USD", -5)]
        )


def test_the_orm_refuses_to_update_or_delete_ledger_rows(db: Session) -> None:
    ana = make_person(db, "Ana")
    tx = fund(db, ana.id, usd(3))
    posting = tx.postings[0]
    posting.amount = 1
    with pytest.raises(ledger.LedgerIsAppendOnly):
        db.flush()
    db.rollback()
    db.delete(db.get(LedgerTransaction, tx.id))
    with pytest.raises(ledger.LedgerIsAppendOnly):
        db.flush()
    db.rollback()
    with pytest.raises(ledger.LedgerIsAppendOnly):
        db.execute(update(LedgerPosting).values(amount=0))
    with pytest.raises(ledger.LedgerIsAppendOnly):
        db.execute(delete(LedgerTransaction))
    db.rollback()
    assert ledger.balance(db, CASH) == usd(3)


@pytest.mark.postgres
def test_postgresql_refuses_updates_below_the_orm(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    ana = make_person(db, "Ana")
    fund(db, ana.id, usd(3))
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE ledger_postings SET amount = 0"))
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM ledger_transactions"))


def test_a_payout_is_held_then_posted(db: Session) -> None:
    ana = make_person(db, "Ana")
    fund(db, ana.id, usd(25) + 4_321)
    ledger.post_transaction(
        db, "payout:1:hold", "payout_hold", ledger.payout_hold_postings(ana.id, "USD", usd(25))
    )
    assert ledger.creator_balances(db, ana.id) == {"USD": 4_321}
    assert ledger.held_balances(db, ana.id) == {"USD": usd(25)}
    ledger.post_transaction(
        db, "payout:1:paid", "payout_paid", ledger.payout_paid_postings(ana.id, "USD", usd(25))
    )
    assert ledger.held_balances(db, ana.id) == {}
    assert ledger.balance(db, ledger.paid_out_account("USD")) == -usd(25)
    assert ledger.check_invariants(db) == []


def test_a_failed_payout_is_voided_back_to_the_creator(db: Session) -> None:
    ana = make_person(db, "Ana")
    fund(db, ana.id, usd(25))
    ledger.post_transaction(
        db, "payout:2:hold", "payout_hold", ledger.payout_hold_postings(ana.id, "USD", usd(25))
    )
    ledger.post_transaction(
        db, "payout:2:void", "payout_void", ledger.payout_void_postings(ana.id, "USD", usd(25))
    )
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(25)}
    assert ledger.check_invariants(db) == []


def test_a_hold_above_the_balance_is_refused(db: Session) -> None:
    ana = make_person(db, "Ana")
    fund(db, ana.id, usd(5))
    with pytest.raises(LedgerImbalance, match="would owe the platform"):
        ledger.post_transaction(
            db, "payout:3:hold", "payout_hold", ledger.payout_hold_postings(ana.id, "USD", usd(6))
        )
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(5)}


def test_invariant_check_finds_postings_slipped_in_below_the_service(db: Session) -> None:
    ana = make_person(db, "Ana")
    tx = fund(db, ana.id, usd(5))
    account = db.scalars(select(LedgerAccount).where(LedgerAccount.code == CASH)).one()
    db.execute(
        insert(LedgerPosting).values(
            transaction_id=tx.id, account_id=account.id, currency="USD", amount=7
        )
    )
    breaches = ledger.check_invariants(db)
    assert "USD: postings sum to 7, not 0" in breaches
    assert any("do not balance" in b for b in breaches)
    assert any("payload hash" in b for b in breaches)


def test_invariant_check_finds_a_negative_payable(db: Session) -> None:
    ana = make_person(db, "Ana")
    # The service refuses this; a row written around it is still caught.
    tx = fund(db, ana.id, usd(1), key="k")
    payable = db.scalars(select(LedgerAccount).where(LedgerAccount.creator_id == ana.id)).one()
    cash = db.scalars(select(LedgerAccount).where(LedgerAccount.code == CASH)).one()
    db.execute(
        insert(LedgerPosting),
        [
            dict(transaction_id=tx.id, account_id=payable.id, currency="USD", amount=usd(2)),
            dict(transaction_id=tx.id, account_id=cash.id, currency="USD", amount=-usd(2)),
        ],
    )
    assert any("owes the platform" in b for b in ledger.check_invariants(db))


# --- stateful: random revenue, imports and replays; invariants after every step -----------

AMOUNTS = st.one_of(st.integers(0, 50), st.integers(0, 10**12))
FEE_RATES = st.sampled_from(["0", "0.1", "1/3", "1"])


def test_ledger_invariants_hold_through_revenue_imports_and_replays(db: Session) -> None:
    song = make_song(db)
    works = [song.night_swim, song.model, song.shoreline, song.tide, song.sketch]

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.prefix = uuid.uuid4().hex[:8]
            self.sent: dict[str, dict[str, object]] = {}
            self.cash_before = ledger.balance(db, CASH)
            self.expected_cash = 0
            self.n = 0

        def _payload(self, work: int, amount: int, costs: int, fee_rate: str) -> dict[str, object]:
            self.n += 1
            return {
                "external_id": f"{self.prefix}-{self.n}",
                "work": works[work].public_id,
                "amount": amount,
                "currency": "USD",
                "costs": costs,
                "fee_rate": fee_rate,
            }

        @rule(
            work=st.integers(0, len(works) - 1), amount=AMOUNTS, costs=AMOUNTS, fee_rate=FEE_RATES
        )
        def revenue_event(self, work: int, amount: int, costs: int, fee_rate: str) -> None:
            payload = self._payload(work, amount, costs, fee_rate)
            event, created = revenue.record_revenue(
                db, song.admin, payload, default_fee_rate=Fraction(0)
            )
            assert (
                created
                and event.recouped
                + event.fee
                + sum(a.amount for a in event.allocations if a.kind == "earning")
                == amount
            )
            self.sent[str(payload["external_id"])] = payload
            self.expected_cash += amount

        @precondition(lambda self: self.sent)
        @rule(data=st.data(), change=st.booleans())
        def replay(self, data: st.DataObject, change: bool) -> None:
            key = data.draw(st.sampled_from(sorted(self.sent)))
            payload = dict(self.sent[key])
            events = count(db, RevenueEvent)
            if change:
                payload["amount"] = int(payload["amount"]) + 1  # type: ignore[call-overload]
                with pytest.raises(IdempotencyConflict):
                    revenue.record_revenue(db, song.admin, payload, default_fee_rate=Fraction(0))
            else:
                event, created = revenue.record_revenue(
                    db, song.admin, payload, default_fee_rate=Fraction(0)
                )
                assert not created and event.external_id == key
            assert count(db, RevenueEvent) == events

        @rule(
            rows=st.lists(
                st.tuples(st.integers(0, len(works) - 1), AMOUNTS, AMOUNTS, FEE_RATES),
                min_size=1,
                max_size=4,
            ),
            bad_line=st.booleans(),
            with_replay=st.booleans(),
        )
        def csv_import(
            self, rows: list[tuple[int, int, int, str]], bad_line: bool, with_replay: bool
        ) -> None:
            payloads = [self._payload(*row) for row in rows]
            if with_replay and self.sent:
                payloads.append(self.sent[sorted(self.sent)[0]])
            lines = ["external_id,work,amount,currency,costs,fee_rate"]
            lines += [
                ",".join(
                    str(p[c])
                    for c in ("external_id", "work", "amount", "currency", "costs", "fee_rate")
                )
                for p in payloads
            ]
            events = count(db, RevenueEvent)
            if bad_line:
                lines.insert(2, f"{self.prefix}-bad,{works[0].public_id},-1,USD,0,0")
                with pytest.raises(revenue.ImportError_) as caught:
                    revenue.import_csv(
                        db, "\n".join(lines) + "\n", song.admin, default_fee_rate=Fraction(0)
                    )
                assert [line for line, _ in caught.value.errors] == [3]
                assert count(db, RevenueEvent) == events
                return
            result = revenue.import_csv(
                db, "\n".join(lines) + "\n", None, default_fee_rate=Fraction(0)
            )
            assert result.created == len(rows)
            for p in payloads[: len(rows)]:
                self.sent[str(p["external_id"])] = p
                self.expected_cash += int(p["amount"])  # type: ignore[call-overload]

        @invariant()
        def ledger_is_exact(self) -> None:
            assert ledger.check_invariants(db) == []
            assert ledger.balance(db, CASH) - self.cash_before == self.expected_cash

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


def test_the_streamed_check_names_the_one_bad_transaction_among_many(db: Session) -> None:
    """The check reads postings and transactions in order, merged by transaction: a breach
    in the middle of a long ledger is found and named, and no other transaction is."""
    ana = make_person(db, "Ana")
    txs = [fund(db, ana.id, usd(1), key=f"many-{i}") for i in range(40)]
    account = db.scalars(select(LedgerAccount).where(LedgerAccount.code == CASH)).one()
    db.execute(
        insert(LedgerPosting).values(
            transaction_id=txs[17].id, account_id=account.id, currency="USD", amount=3
        )
    )
    breaches = ledger.check_invariants(db)
    assert [b for b in breaches if b.startswith("transaction")] == [
        "transaction many-17: postings do not balance ({'USD': 3})",
        "transaction many-17: postings do not match its payload hash",
    ]
    assert "USD: postings sum to 3, not 0" in breaches
    assert any(b.startswith(f"{CASH}: running balance") for b in breaches)
