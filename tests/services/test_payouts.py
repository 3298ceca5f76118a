"""Payout runs: who is paid, how much, two-phase holds, failures, and the manual provider."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import LedgerTransaction, Notification, Payout, PayoutAccount
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.payments import ManualProvider, StripeConnectProvider
from hitrack.services import ledger, payouts
from tests.factories import MINIMUMS, ScriptedProvider, connect, fund, make_person, usd
from tests.fake_stripe import FakeStripe


def onboarded(
    db: Session, fake: FakeStripe, provider: StripeConnectProvider, creator
) -> PayoutAccount:  # type: ignore[no-untyped-def]
    row = payouts.connect_account(db, provider, creator)
    fake.complete_onboarding(row.provider_account_id)
    refreshed = payouts.refresh_account(db, provider, creator)
    assert refreshed is not None and refreshed.payable
    return refreshed


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_run_pays_whole_cents_and_leaves_the_sub_cent_remainder(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    account = onboarded(db, fake_stripe, stripe_provider, ana)
    fund(db, ana, usd("25.678912"))

    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)

    [payout] = run.payouts
    assert (payout.status, payout.amount, payout.currency) == ("paid", usd("25.67"), "USD")
    assert payout.idempotency_key == f"{run.public_id}:{ana.id}:USD"
    [transfer] = fake_stripe.transfers(transfer_group=run.public_id)
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        2567,
        "usd",
        account.provider_account_id,
    )
    assert transfer["metadata"] == {"payout_id": str(payout.id), "creator_id": str(ana.id)}
    assert payout.provider_transfer_id == transfer["id"]
    assert ledger.creator_balances(db, ana.id) == {"USD": 8_912}
    assert ledger.held_balances(db, ana.id) == {}
    assert ledger.balance(db, ledger.paid_out_account("USD")) == -usd("25.67")
    assert ledger.check_invariants(db) == []
    assert run.status == "finished" and run.summary["counts"] == {"paid": 1}
    assert payouts.run_summary_line(run).endswith("1 payouts (1 paid); paid 25.67 USD")
    assert [
        n.kind for n in db.scalars(select(Notification).where(Notification.creator_id == ana.id))
    ] == ["payout_paid"]


def test_the_hold_and_the_row_are_committed_before_the_provider_is_called(db: Session) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    connect(db, ana)
    fund(db, ana, usd(30))
    provider = ScriptedProvider()
    seen: list[tuple[str, int, dict[str, int]]] = []
    send = provider.send_transfer

    def spy(request):  # type: ignore[no-untyped-def]
        payout = db.scalars(select(Payout)).one()
        seen.append(
            (payout.status, payout.hold_transaction_id or 0, ledger.held_balances(db, ana.id))
        )
        return send(request)

    provider.send_transfer = spy  # type: ignore[method-assign]
    payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    assert seen[0][0] == "pending" and seen[0][1] > 0 and seen[0][2] == {"USD": usd(30)}


def test_only_payable_accounts_at_the_minimum_are_paid(db: Session) -> None:
    admin = make_person(db, "Admin", admin=True)
    rich, poor, unverified, nobody, euro = (
        make_person(db, n) for n in ("Rich", "Poor", "Unv", "None", "Euro")
    )
    connect(db, rich)
    connect(db, poor)
    connect(db, unverified, payable=False)
    connect(db, euro)
    fund(db, rich, usd(10))  # exactly the minimum
    fund(db, poor, usd("9.999999"))
    fund(db, unverified, usd(500))
    fund(db, nobody, usd(500))
    fund(db, euro, usd(500), currency="EUR")  # no EUR minimum configured: not paid out
    provider = ScriptedProvider()
    run = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    assert [(p.creator_id, p.amount) for p in run.payouts] == [(rich.id, usd(10))]
    assert ledger.creator_balances(db, poor.id) == {"USD": usd("9.999999")}
    assert ledger.creator_balances(db, unverified.id) == {"USD": usd(500)}
    assert ledger.creator_balances(db, euro.id) == {"EUR": usd(500)}


def test_a_second_run_finds_nothing_left_to_pay(db: Session) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    connect(db, ana)
    fund(db, ana, usd(40))
    provider = ScriptedProvider()
    payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    second = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    assert second.payouts == [] and provider.calls == 1


def test_a_definite_failure_voids_the_hold_and_tells_the_creator(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    onboarded(db, fake_stripe, stripe_provider, ana)
    fund(db, ana, usd(40))
    fake_stripe.fail_next("insufficient_balance")
    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    [payout] = run.payouts
    assert payout.status == "failed" and "balance_insufficient" in payout.failure_reason
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(40)}
    assert ledger.held_balances(db, ana.id) == {}
    assert fake_stripe.transfers() == []
    kinds = {t.kind for t in db.scalars(select(LedgerTransaction))}
    assert {"payout_hold", "payout_void"} <= kinds and "payout_paid" not in kinds
    note = db.scalars(select(Notification).where(Notification.creator_id == ana.id)).one()
    assert note.kind == "payout_failed" and "back in your balance" in note.message
    assert ledger.check_invariants(db) == []
    # The next run pays it under a new key.
    again = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    assert [p.status for p in again.payouts] == ["paid"]
    assert len(fake_stripe.transfers()) == 1


def test_an_unknown_outcome_keeps_the_payout_pending(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    onboarded(db, fake_stripe, stripe_provider, ana)
    fund(db, ana, usd(40))
    fake_stripe.fail_next("transfer_500_after_create")
    run = payouts.run_payouts(db, stripe_provider, started_by=admin, minimums=MINIMUMS)
    [payout] = run.payouts
    assert payout.status == "pending" and "outcome unknown" in payout.failure_reason
    assert ledger.held_balances(db, ana.id) == {"USD": usd(40)}
    assert ledger.creator_balances(db, ana.id) == {"USD": 0}
    assert run.status == "awaiting"


def test_only_admins_start_runs(db: Session) -> None:
    ana = make_person(db, "Ana")
    connect(db, ana)
    fund(db, ana, usd(40))
    with pytest.raises(PermissionDenied):
        payouts.run_payouts(db, ScriptedProvider(), started_by=ana, minimums=MINIMUMS)
    assert count(db, Payout) == 0


def test_manual_runs_wait_for_the_admin_then_post_or_void(db: Session) -> None:
    admin, ana, bo = (
        make_person(db, "Admin", admin=True),
        make_person(db, "Ana"),
        make_person(db, "Bo"),
    )
    payouts.submit_manual_method(db, ana, "IBAN DE89 3704 0044 0532 0130 00")
    payouts.record_manual_method(db, admin, bo.handle, '=HYPERLINK("x") paypal bo@example.test')
    fund(db, ana, usd("12.345"))
    fund(db, bo, usd(20))
    provider = ManualProvider()

    run = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    assert [p.creator_id for p in run.payouts] == [bo.id]  # Ana's method is not verified yet
    payouts.verify_manual_method(db, admin, ana.handle)
    run = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    [ana_payout] = run.payouts
    assert ana_payout.status == "pending" and ana_payout.failure_reason == "awaiting manual payment"
    assert run.status == "awaiting"

    rows = list(csv.DictReader(io.StringIO(payouts.export_run_csv(db, admin, run.public_id))))
    assert rows == [
        {
            "payee": "Ana",
            "method": "IBAN DE89 3704 0044 0532 0130 00",
            "amount": "12.34",
            "currency": "USD",
            "reference": ana_payout.idempotency_key,
        }
    ]

    payouts.mark_manual(db, admin, ana_payout.id, paid=True, note="SEPA ref 991")
    assert ana_payout.status == "paid" and ledger.creator_balances(db, ana.id) == {"USD": 5_000}
    with pytest.raises(Conflict):
        payouts.mark_manual(db, admin, ana_payout.id, paid=False, note="bounced")

    [bo_payout] = payouts.payouts_for(db, bo.id)
    bo_csv = payouts.export_run_csv(db, admin, bo_payout.run.public_id)
    assert "'=HYPERLINK" in bo_csv  # stays text in a spreadsheet
    with pytest.raises(InvalidInput, match="say why"):
        payouts.mark_manual(db, admin, bo_payout.id, paid=False)
    payouts.mark_manual(db, admin, bo_payout.id, paid=False, note="account closed")
    assert bo_payout.status == "failed" and ledger.creator_balances(db, bo.id) == {"USD": usd(20)}
    assert ledger.check_invariants(db) == []


def test_manual_marks_and_exports_refuse_bad_callers_and_changed_details_need_verifying(
    db: Session,
) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    payouts.record_manual_method(db, admin, ana.handle, "IBAN 1")
    fund(db, ana, usd(20))
    run = payouts.run_payouts(db, ManualProvider(), started_by=admin, minimums=MINIMUMS)
    [payout] = run.payouts
    with pytest.raises(PermissionDenied):
        payouts.mark_manual(db, ana, payout.id, paid=True)
    with pytest.raises(PermissionDenied):
        payouts.export_run_csv(db, ana, run.public_id)
    with pytest.raises(PermissionDenied):
        payouts.verify_manual_method(db, ana, ana.handle)
    with pytest.raises(NotFound):
        payouts.mark_manual(db, admin, 10**9, paid=True)
    with pytest.raises(NotFound):
        payouts.record_manual_method(db, admin, "nobody-here", "IBAN 2")
    with pytest.raises(InvalidInput):
        payouts.submit_manual_method(db, ana, "   ")
    assert payout.status == "pending"
    # The creator changes their details (a stolen session would, too): not payable until verified.
    row = payouts.submit_manual_method(db, ana, "IBAN 2")
    assert not row.payable and row.verified_by_id is None
    assert payouts.candidates(db, "manual", MINIMUMS) == []


def test_stripe_payouts_are_not_marked_by_hand(db: Session) -> None:
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    connect(db, ana)
    fund(db, ana, usd(20))
    run = payouts.run_payouts(
        db, ScriptedProvider(answers=["unknown_lost"]), started_by=admin, minimums=MINIMUMS
    )
    with pytest.raises(InvalidInput, match="marked by hand"):
        payouts.mark_manual(db, admin, run.payouts[0].id, paid=True)
    with pytest.raises(InvalidInput):
        payouts.export_run_csv(db, admin, run.public_id)


def test_connecting_creates_one_express_account_and_links_back_to_this_site(
    db: Session, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    ana = make_person(db, "Ana")
    url = payouts.onboarding_link(db, stripe_provider, ana, base_url="https://hitrack.test/")
    again = payouts.onboarding_link(db, stripe_provider, ana, base_url="https://hitrack.test")
    assert url != again and url.startswith(fake_stripe.api_base + "/onboarding/")
    row = payouts.payout_account(db, ana.id, "stripe")
    assert row is not None and not row.payable and "currently due" in row.status_reason
    account = fake_stripe.account(row.provider_account_id)
    assert account["type"] == "express" and "transfers" in account["capabilities"]
    link = next(iter(fake_stripe.state.account_links.values()))
    assert (link["refresh_url"], link["return_url"]) == (
        "https://hitrack.test/me/payouts/refresh",
        "https://hitrack.test/me/payouts/return",
    )
    assert count(db, PayoutAccount) == 1
    with pytest.raises(InvalidInput, match="no hosted onboarding"):
        payouts.onboarding_link(db, ManualProvider(), ana, base_url="https://hitrack.test")
