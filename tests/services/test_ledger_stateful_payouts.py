"""Hypothesis stateful test: revenue, payout runs, failures, lost answers, reversals, reconciles.

After every step the ledger's invariants hold and the money adds up to the
micro: revenue in = fees + creators' balances + money held in payouts +
money paid out, and what the ledger says was paid out matches what the
provider holds (less what came back).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from fractions import Fraction

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import LedgerAccount, Payout
from hitrack.domain.money import micros_per_minor_unit
from hitrack.services import ledger, payouts, revenue, webhooks
from tests.factories import ScriptedProvider, connect, make_song

USD = "USD"
AMOUNTS = st.one_of(st.integers(0, 50_000), st.integers(0, 10**10))
FEE_RATES = st.sampled_from(["0", "0.1", "1/3"])
ANSWERS = st.lists(
    st.sampled_from(["sent", "sent", "failed", "unknown_sent", "unknown_lost"]), max_size=5
)
MINIMUMS = st.sampled_from([10_000, 1_000_000, 10_000_000])


def total(db: Session, kind: str) -> int:
    codes = db.scalars(
        select(LedgerAccount.code).where(LedgerAccount.kind == kind, LedgerAccount.currency == USD)
    )
    return sum(ledger.balance(db, code) for code in codes)


def test_money_adds_up_through_payouts_failures_reversals_and_reconciles(db: Session) -> None:
    song = make_song(db)
    works = [song.night_swim, song.model, song.shoreline, song.tide, song.sketch]
    for creator in (song.ana, song.bo, song.cy, song.dee):
        connect(db, creator)

    class PayoutMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.prefix = uuid.uuid4().hex[:8]
            self.n = 0
            # The database outlives an example; compare what this example moved.
            self.provider = ScriptedProvider()
            self.paid_out_before = -ledger.balance(db, ledger.paid_out_account(USD))

        @rule(
            work=st.integers(0, len(works) - 1), amount=AMOUNTS, costs=AMOUNTS, fee_rate=FEE_RATES
        )
        def revenue_event(self, work: int, amount: int, costs: int, fee_rate: str) -> None:
            self.n += 1
            revenue.record_revenue(
                db,
                song.admin,
                {
                    "external_id": f"{self.prefix}-{self.n}",
                    "work": works[work].public_id,
                    "amount": amount,
                    "currency": USD,
                    "costs": costs,
                    "fee_rate": fee_rate,
                },
                default_fee_rate=Fraction(0),
            )

        @rule(answers=ANSWERS, minimum=MINIMUMS)
        def payout_run(self, answers: list[str], minimum: int) -> None:
            provider = self.provider
            provider.answers = list(answers)
            before = {c: ledger.creator_balances(db, c).get(USD, 0) for c in self._creators()}
            run = payouts.run_payouts(db, provider, started_by=song.admin, minimums={USD: minimum})
            for payout in run.payouts:
                assert (
                    payout.amount % micros_per_minor_unit("USD") == 0 and payout.amount >= minimum
                )
                assert payout.amount <= before[payout.creator_id]
            provider.answers = []

        @rule()
        def reconcile(self) -> None:
            payouts.reconcile(db, self.provider, min_age=timedelta(0))
            # The scripted provider's lookups are always certain, so nothing stays pending.
            assert db.scalars(select(Payout).where(Payout.status == "pending")).first() is None

        # Draws never depend on the database (it outlives examples): pick by index and percent.
        @rule(pick=st.integers(0, 1000), percent=st.integers(1, 100), replay=st.booleans())
        def reversal(self, pick: int, percent: int, replay: bool) -> None:
            open_ = sorted(
                (
                    t
                    for t in self.provider.transfers.values()
                    if t.reversed_cents < t.request.amount_minor
                ),
                key=lambda t: t.transfer_id,
            )
            if not open_:
                return
            transfer = open_[pick % len(open_)]
            remaining = transfer.request.amount_minor - transfer.reversed_cents
            cents = max(1, remaining * percent // 100)
            self.n += 1
            event = self.provider.reversal_event(transfer, cents, f"evt_{self.prefix}_{self.n}")
            for _ in range(2 if replay else 1):
                webhooks.handle_event(db, "stripe", event)

        def _creators(self) -> list[int]:
            return [song.ana.id, song.bo.id, song.cy.id, song.dee.id]

        @invariant()
        def money_adds_up(self) -> None:
            assert ledger.check_invariants(db) == []
            cash = ledger.balance(db, ledger.cash_account(USD))
            fees = -ledger.balance(db, ledger.fees_account(USD))
            balances = -total(db, "creator_payable")
            held = -total(db, "creator_payout_hold")
            paid_out = -ledger.balance(db, ledger.paid_out_account(USD))
            assert cash == fees + balances + held + paid_out
            assert balances >= 0 and held >= 0 and paid_out >= 0
            # The provider's net transfers are either confirmed (paid out) or still held.
            in_flight = sum(
                p.amount
                for p in db.scalars(select(Payout).where(Payout.status == "pending"))
                if self.provider.by_payout(p.id) is not None
            )
            assert (
                self.provider.sent_cents() * micros_per_minor_unit("USD")
                == paid_out - self.paid_out_before + in_flight
            )

        def teardown(self) -> None:
            # Settle this example's payouts with its provider before the next example starts.
            payouts.reconcile(db, self.provider, min_age=timedelta(0))

    run_state_machine_as_test(
        PayoutMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
