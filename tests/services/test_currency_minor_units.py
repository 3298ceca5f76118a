"""JPY (no decimals) and KWD (three) end to end: revenue in, settle, pay out, reverse, print.

Before the currency table every currency was taken to have cents: a JPY
payout of 1,234,567 yen asked Stripe for 123,456,789 (100x too much), and a
KWD payout lost its third decimal.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, LedgerTransaction, Payout, RevenueEvent, Work
from hitrack.domain.errors import InvalidInput
from hitrack.payments import ManualProvider, StripeConnectProvider
from hitrack.services import ledger, payouts, revenue, statements, webhooks
from hitrack.settings import Settings
from tests.factories import connect, make_person, make_work
from tests.fake_stripe import FakeStripe

# 1,234,567.891234 yen and 12.345678 dinars, in micros.
YEN = 1_234_567_891_234
DINARS = 12_345_678
MINIMUMS = Settings.from_env({"HITRACK_PAYOUT_MINIMUM": "USD:10.00,JPY:1000,KWD:5"}).payout_minimum


def earn(db: Session, admin: Creator, work: Work, amount: int, currency: str, key: str) -> None:
    revenue.record_revenue(
        db,
        admin,
        {"external_id": key, "work": work.public_id, "amount": amount, "currency": currency},
        default_fee_rate=Fraction(0),
    )


@pytest.fixture
def earners(db: Session) -> tuple[Creator, Creator, Creator, Creator]:
    """Kenji earns in yen, Layla in dinars, Omar a little less than the KWD minimum."""
    admin = make_person(db, "Admin", admin=True)
    kenji, layla, omar = make_person(db, "Kenji"), make_person(db, "Layla"), make_person(db, "Omar")
    earn(db, admin, make_work(db, "record", "Koto", {kenji: 1}), YEN, "JPY", "jp-1")
    earn(db, admin, make_work(db, "record", "Oud", {layla: 1}), DINARS, "kwd", "kw-1")
    earn(db, admin, make_work(db, "record", "Ney", {omar: 1}), 4_999_999, "KWD", "kw-2")
    return admin, kenji, layla, omar


def onboard(
    db: Session, fake: FakeStripe, provider: StripeConnectProvider, *people: Creator
) -> None:
    for person in people:
        row = payouts.connect_account(db, provider, person)
        fake.complete_onboarding(row.provider_account_id)
        assert (refreshed := payouts.refresh_account(db, provider, person)) and refreshed.payable


def test_minimums_are_set_in_each_currency_s_own_units() -> None:
    assert MINIMUMS == {"USD": 10_000_000, "JPY": 1_000_000_000, "KWD": 5_000_000}
    for bad in ("JPY:10.5", "KWD:1.2345", "XYZ:10", "usd"):
        with pytest.raises(InvalidInput, match="HITRACK_PAYOUT_MINIMUM"):
            Settings.from_env({"HITRACK_PAYOUT_MINIMUM": bad})


def test_revenue_in_an_unknown_currency_is_refused_and_records_nothing(db: Session) -> None:
    admin, kenji = make_person(db, "Admin", admin=True), make_person(db, "Kenji")
    koto = make_work(db, "record", "Koto", {kenji: 1})
    with pytest.raises(InvalidInput, match="XYZ is not a currency hitrack handles"):
        earn(db, admin, koto, 1_000_000, "XYZ", "xyz-1")
    assert db.scalars(select(RevenueEvent)).all() == []


def test_stripe_transfers_are_in_the_currency_s_minor_unit(
    db: Session,
    fake_stripe: FakeStripe,
    stripe_provider: StripeConnectProvider,
    earners: tuple[Creator, Creator, Creator, Creator],
) -> None:
    admin, kenji, layla, omar = earners
    onboard(db, fake_stripe, stripe_provider, kenji, layla, omar)
    fake_stripe.set_balance(10_000_000, "jpy")
    fake_stripe.set_balance(100_000, "kwd")

    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)

    sent = {
        (t["metadata"]["creator_id"], t["currency"]): t["amount"]
        for t in fake_stripe.transfers(transfer_group=run.public_id)
    }
    assert sent == {(str(kenji.id), "jpy"): 1_234_567, (str(layla.id), "kwd"): 12_345}
    assert {(p.currency, p.amount, p.status) for p in run.payouts} == {
        ("JPY", 1_234_567_000_000, "paid"),
        ("KWD", 12_345_000, "paid"),
    }
    # What is below the minor unit stays, and Omar is below the KWD minimum.
    assert ledger.creator_balances(db, kenji.id) == {"JPY": 891_234}
    assert ledger.creator_balances(db, layla.id) == {"KWD": 678}
    assert ledger.creator_balances(db, omar.id) == {"KWD": 4_999_999}
    assert fake_stripe.available_balance("jpy") == 10_000_000 - 1_234_567
    assert payouts.run_summary_line(run).endswith("paid 1234567 JPY, 12.345 KWD")
    assert ledger.check_invariants(db) == []

    # A reversal comes back in yen, and is credited as yen.
    [transfer] = [t for t in fake_stripe.transfers() if t["currency"] == "jpy"]
    fake_stripe.reverse_transfer(transfer["id"], 1_000)
    [event] = [e for e in fake_stripe.pending_events() if e["type"] == "transfer.reversed"]
    row = webhooks.handle_event(
        db, "stripe", stripe_provider.parse_webhook(*fake_stripe.signed(event))
    )
    assert row.status == "processed"
    assert ledger.creator_balances(db, kenji.id) == {"JPY": 1_000_000_000 + 891_234}
    kenji_payout = db.scalars(select(Payout).where(Payout.creator_id == kenji.id)).one()
    assert kenji_payout.failure_reason == (
        "transfer reversed at Stripe: 1000 of 1234567 JPY returned to the balance"
    )
    assert ledger.check_invariants(db) == []


def test_manual_payouts_export_and_settle_in_the_currency_s_minor_unit(
    db: Session, earners: tuple[Creator, Creator, Creator, Creator]
) -> None:
    admin, kenji, layla, omar = earners
    for person in (kenji, layla, omar):
        connect(db, person, "manual")

    run = payouts.run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)

    rows = list(csv.DictReader(io.StringIO(payouts.export_run_csv(db, admin, run.public_id))))
    assert sorted((r["payee"], r["amount"], r["currency"]) for r in rows) == [
        ("Kenji", "1234567", "JPY"),
        ("Layla", "12.345", "KWD"),
    ]
    for payout in run.payouts:
        payouts.mark_manual(db, admin, payout.id, paid=True, note="bank transfer")
    assert ledger.creator_balances(db, kenji.id) == {"JPY": 891_234}
    assert ledger.creator_balances(db, layla.id) == {"KWD": 678}
    assert ledger.balance(db, ledger.paid_out_account("JPY")) == -1_234_567_000_000
    assert ledger.check_invariants(db) == []


def test_statements_print_each_currency_with_its_own_decimals(
    db: Session, earners: tuple[Creator, Creator, Creator, Creator]
) -> None:
    admin, kenji, layla, _omar = earners
    for person in (kenji, layla):
        connect(db, person, "manual")
    payouts.run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    held = {
        tx.description.split(" held")[0]
        for tx in db.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == "payout_hold")
        )
    }
    assert held == {"Payout 1234567 JPY", "Payout 12.345 KWD"}

    [line] = statements.earnings(db, kenji.id).lines
    assert line.lines == [
        "Your record Koto earned 1234567; you own all of it: 1234567 of this sale"
    ]
    today = line.at.date()
    text = statements.statement_csv(statements.statement(db, layla.id, today, today))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[1]["description"].endswith(
        ": Your record Oud earned 12.345; you own all of it: 12.345 of this sale"
    )
    assert rows[-1]["description"] == "balance at the end (0.000 KWD)"
    assert rows[-1]["amount_micros"] == "678"
