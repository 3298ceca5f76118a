"""Revenue states: reported -> funded -> settled (or rejected); only funded money is ever paid."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.db.models import Allocation, LedgerPosting, LedgerTransaction, RevenueEvent
from hitrack.domain.errors import (
    Conflict,
    IdempotencyConflict,
    InvalidEvent,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.ledger import Posting, merge_postings
from hitrack.payments.manual import ManualProvider
from hitrack.payments.stripe_connect import StripeConnectProvider
from hitrack.services import funding, ledger, revenue, statements
from hitrack.services.unit_of_work import unit_of_work
from tests.factories import Song, make_song, make_work, usd
from tests.fake_stripe.server import FakeStripe
from tests.fake_stripe.state import ApiError

FEE = Fraction(0)
UNSETTLED = ledger.unsettled_account("USD")


@pytest.fixture
def song(db: Session) -> Song:
    return make_song(db)


def report(db: Session, song: Song, external_id: str = "out-1", amount: int = usd(16)):  # type: ignore[no-untyped-def]
    """Cy, the Wave Model's operator, reports revenue for it (blended 3:1 attribution)."""
    return revenue.record_revenue(
        db,
        song.cy,
        {
            "work": song.model.public_id,
            "amount": amount,
            "currency": "USD",
            "external_id": external_id,
            "attribution": {song.shoreline.public_id: "3", song.sketch.public_id: "1"},
        },
        default_fee_rate=FEE,
    ).event


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def postings_of(db: Session, transaction_id: int | None) -> list[Posting]:
    tx = db.get(LedgerTransaction, transaction_id)
    assert tx is not None
    return merge_postings(Posting(p.account.code, p.currency, p.amount) for p in tx.postings)


def owed(db: Session, song: Song) -> dict[str, dict[str, int]]:
    people = {"ana": song.ana, "bo": song.bo, "cy": song.cy, "dee": song.dee}
    return {name: ledger.creator_balances(db, c.id) for name, c in people.items()}


# --- funded on arrival -------------------------------------------------------------------


def test_an_admins_event_is_funded_on_arrival_then_settled_from_unsettled_revenue(
    db: Session, song: Song
) -> None:
    event, created = revenue.record_revenue(
        db,
        song.admin,
        {
            "work": song.night_swim.public_id,
            "amount": usd(100),
            "currency": "USD",
            "external_id": "sale-1",
            "fee_rate": "0.1",
        },
        default_fee_rate=FEE,
    )
    assert created and (event.state, event.funding_method) == ("settled", "on_arrival")
    assert event.funding_transaction_id not in (None, event.transaction_id)
    assert postings_of(db, event.funding_transaction_id) == merge_postings(
        ledger.revenue_funding_postings("USD", usd(100))
    )
    settlement = postings_of(db, event.transaction_id)
    assert Posting(UNSETTLED, "USD", usd(100)) in settlement
    assert all(p.account != ledger.cash_account("USD") for p in settlement)
    assert ledger.balance(db, ledger.cash_account("USD")) == usd(100)
    assert ledger.balance(db, UNSETTLED) == 0
    assert ledger.check_invariants(db) == []


def test_a_csv_import_is_funded_on_arrival_and_settled(db: Session, song: Song) -> None:
    text = f"external_id,work,amount,currency\nc1,{song.model.public_id},{usd(3)},USD\n"
    revenue.import_csv(db, text, song.admin, default_fee_rate=FEE)
    event = revenue.get_event(db, "c1")
    assert (event.state, event.funding_method) == ("settled", "on_arrival")
    assert ledger.creator_balances(db, song.cy.id)["USD"] > 0
    assert ledger.check_invariants(db) == []


# --- reported: no money until funded -------------------------------------------------------


def test_an_operators_report_is_reported_and_moves_no_money(db: Session, song: Song) -> None:
    event = report(db, song, amount=10**12)
    assert event.state == "reported" and event.created_by_id == song.cy.id
    assert (event.funding_transaction_id, event.transaction_id, event.funded_at) == (None,) * 3
    assert event.allocations == [] and (event.fee, event.distributable) == (0, 0)
    assert count(db, LedgerTransaction) == count(db, LedgerPosting) == 0
    assert owed(db, song) == {"ana": {}, "bo": {}, "cy": {}, "dee": {}}
    assert ledger.check_invariants(db) == []


def test_a_report_with_an_attribution_outside_the_manifest_is_refused_at_once(
    db: Session, song: Song
) -> None:
    with pytest.raises(InvalidInput, match="outside the manifest"):
        revenue.record_revenue(
            db,
            song.cy,
            {
                "work": song.model.public_id,
                "amount": usd(1),
                "currency": "USD",
                "external_id": "bad",
                "attribution": {song.tide.public_id: 1},
            },
            default_fee_rate=FEE,
        )
    assert count(db, RevenueEvent) == 0


def test_an_admin_confirms_the_money_arrived_and_the_report_settles(
    db: Session, song: Song
) -> None:
    report(db, song)
    event = funding.confirm_funding(db, song.admin, "out-1", "bank ref 42")
    assert (event.state, event.funding_method, event.funding_reference) == (
        "settled",
        "manual",
        "bank ref 42",
    )
    assert event.decided_by_id == song.admin.id and event.funded_at is not None
    # lambda 1/2, manifest 1/4 + 1/4, scores 3:1 -> Shoreline 5/16, Sketch 3/16, model keeps 1/2.
    assert owed(db, song) == {
        "ana": {"USD": usd(5) + usd("1.5")},
        "bo": {},
        "cy": {"USD": usd(8) + usd("1.5")},
        "dee": {},
    }
    assert ledger.balance(db, ledger.cash_account("USD")) == usd(16)
    assert ledger.balance(db, UNSETTLED) == 0
    assert ledger.check_invariants(db) == []


def test_funding_an_event_twice_is_a_conflict_and_changes_nothing(db: Session, song: Song) -> None:
    report(db, song)
    funding.confirm_funding(db, song.admin, "out-1")
    before = (count(db, LedgerTransaction), count(db, Allocation), owed(db, song))
    with pytest.raises(Conflict, match="already settled"):
        funding.confirm_funding(db, song.admin, "out-1")
    with pytest.raises(Conflict, match="already settled"):
        funding.reject_report(db, song.admin, "out-1", "too late")
    assert (count(db, LedgerTransaction), count(db, Allocation), owed(db, song)) == before


def test_an_event_funded_on_arrival_cannot_be_funded_again(db: Session, song: Song) -> None:
    revenue.record_revenue(
        db,
        song.admin,
        {"work": song.model.public_id, "amount": usd(2), "currency": "USD", "external_id": "a1"},
        default_fee_rate=FEE,
    )
    with pytest.raises(Conflict, match="already settled"):
        funding.confirm_funding(db, song.admin, "a1")


def test_a_rejected_report_moves_nothing_and_is_never_funded(db: Session, song: Song) -> None:
    report(db, song)
    event = funding.reject_report(db, song.admin, "out-1", "no such sales")
    assert (event.state, event.rejection_reason, event.decided_by_id) == (
        "rejected",
        "no such sales",
        song.admin.id,
    )
    for attempt in (
        lambda: funding.confirm_funding(db, song.admin, "out-1"),
        lambda: funding.reject_report(db, song.admin, "out-1"),
        lambda: funding.open_checkout(
            db, song.cy, "out-1", ManualProvider(), base_url="https://hitrack.test"
        ),
        lambda: funding.fund_from_checkout(
            db, "out-1", session_id="cs_1", amount_minor=1600, currency="usd"
        ),
    ):
        with pytest.raises(Conflict, match="rejected|already rejected"):
            attempt()
    assert count(db, LedgerTransaction) == 0
    assert ledger.check_invariants(db) == []


def test_only_admins_confirm_or_reject(db: Session, song: Song) -> None:
    report(db, song)
    for who in (song.cy, song.ana):
        with pytest.raises(PermissionDenied):
            funding.confirm_funding(db, who, "out-1")
        with pytest.raises(PermissionDenied):
            funding.reject_report(db, who, "out-1")
    # The answer is the same whether the event exists or not.
    with pytest.raises(PermissionDenied):
        funding.confirm_funding(db, song.cy, "no-such-event")
    assert revenue.get_event(db, "out-1").state == "reported"


def test_confirming_an_unknown_event_is_not_found(db: Session, song: Song) -> None:
    with pytest.raises(NotFound):
        funding.confirm_funding(db, song.admin, "nope")


# --- funding by Checkout -------------------------------------------------------------------


def test_a_paid_checkout_funds_and_settles_once(db: Session, song: Song) -> None:
    report(db, song)
    event = funding.fund_from_checkout(
        db, "out-1", session_id="cs_1", amount_minor=1600, currency="usd"
    )
    assert (event.state, event.funding_method, event.funding_reference) == (
        "settled",
        "checkout",
        "cs_1",
    )
    before = (count(db, LedgerTransaction), owed(db, song))
    again = funding.fund_from_checkout(
        db, "out-1", session_id="cs_1", amount_minor=1600, currency="usd"
    )
    assert again.id == event.id
    assert (count(db, LedgerTransaction), owed(db, song)) == before
    with pytest.raises(Conflict, match="refund"):
        funding.fund_from_checkout(
            db, "out-1", session_id="cs_2", amount_minor=1600, currency="usd"
        )
    assert (count(db, LedgerTransaction), owed(db, song)) == before
    assert ledger.check_invariants(db) == []


@pytest.mark.parametrize("cents, currency", [(1599, "usd"), (1601, "usd"), (1600, "eur")])
def test_a_checkout_that_paid_another_amount_funds_nothing(
    db: Session, song: Song, cents: int, currency: str
) -> None:
    report(db, song)
    with pytest.raises(InvalidEvent, match="paid"):
        funding.fund_from_checkout(
            db, "out-1", session_id="cs_1", amount_minor=cents, currency=currency
        )
    assert revenue.get_event(db, "out-1").state == "reported"
    assert count(db, LedgerTransaction) == 0


def test_with_manual_payouts_the_operator_gets_instructions(db: Session, song: Song) -> None:
    report(db, song)
    found = funding.open_checkout(
        db, song.cy, "out-1", ManualProvider(), base_url="https://hitrack.test"
    )
    assert (found.method, found.url, found.checkout_id) == ("manual", None, None)
    assert "admin confirms" in found.instructions
    assert revenue.get_event(db, "out-1").state == "reported"


def test_the_operator_opens_one_checkout_session_for_the_amount(
    db: Session, song: Song, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    report(db, song, amount=usd("16.25"))
    first = funding.open_checkout(
        db, song.cy, "out-1", stripe_provider, base_url="https://hitrack.test/"
    )
    assert first.method == "checkout" and first.url is not None
    assert first.url.startswith(fake_stripe.api_base + "/checkout/")
    session = fake_stripe.checkout_session(str(first.checkout_id))
    assert (session["amount_total"], session["currency"], session["metadata"]) == (
        1625,
        "usd",
        {"revenue_event": "out-1"},
    )
    assert session["success_url"] == "https://hitrack.test/me/revenue?funded=out-1"
    # Asked again (a double click, a retry), the same session comes back.
    again = funding.open_checkout(
        db, song.cy, "out-1", stripe_provider, base_url="https://hitrack.test/"
    )
    assert again.checkout_id == first.checkout_id and len(fake_stripe.checkout_sessions()) == 1
    assert revenue.get_event(db, "out-1").state == "reported"  # only the webhook funds it


def test_an_unpaid_checkout_expires_after_a_day_and_the_operator_gets_a_new_one(
    db: Session, song: Song, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    report(db, song)
    first = funding.open_checkout(db, song.cy, "out-1", stripe_provider, base_url="https://h.test")
    fake_stripe.advance(days=1, seconds=1)
    assert fake_stripe.checkout_session(str(first.checkout_id))["status"] == "expired"
    with pytest.raises(ApiError, match="expired"):
        fake_stripe.complete_checkout(str(first.checkout_id))
    second = funding.open_checkout(db, song.cy, "out-1", stripe_provider, base_url="https://h.test")
    assert second.checkout_id != first.checkout_id
    assert fake_stripe.checkout_session(str(second.checkout_id))["status"] == "open"


def test_only_the_reporting_operator_opens_a_checkout(
    db: Session, song: Song, stripe_provider: StripeConnectProvider
) -> None:
    report(db, song)
    with pytest.raises(NotFound) as unknown:
        funding.open_checkout(db, song.bo, "nope", stripe_provider, base_url="https://h.test")
    with pytest.raises(NotFound) as hidden:
        funding.open_checkout(db, song.bo, "out-1", stripe_provider, base_url="https://h.test")
    assert str(hidden.value) == str(unknown.value).replace("nope", "out-1")
    with pytest.raises(PermissionDenied, match="operator who reported it"):
        funding.open_checkout(db, song.admin, "out-1", stripe_provider, base_url="https://h.test")


def test_an_amount_checkout_cannot_charge_exactly_is_refused(
    db: Session, song: Song, stripe_provider: StripeConnectProvider, fake_stripe: FakeStripe
) -> None:
    report(db, song, "sub-cent", amount=usd(16) + 7)
    report(db, song, "zero", amount=0)
    with pytest.raises(InvalidEvent, match="not a whole number of USD.s minor unit"):
        funding.open_checkout(db, song.cy, "sub-cent", stripe_provider, base_url="https://h.test")
    with pytest.raises(InvalidEvent, match="nothing to pay"):
        funding.open_checkout(db, song.cy, "zero", stripe_provider, base_url="https://h.test")
    assert fake_stripe.checkout_sessions() == []
    # An admin can still confirm a payment made another way.
    assert funding.confirm_funding(db, song.admin, "sub-cent").state == "settled"


# --- replays do not leak ---------------------------------------------------------------------


def test_a_replay_by_someone_who_may_not_see_the_event_answers_as_for_an_unknown_id(
    db: Session, song: Song
) -> None:
    report(db, song)
    payload = {
        "work": song.model.public_id,
        "amount": usd(16),
        "currency": "USD",
        "attribution": {song.shoreline.public_id: "3", song.sketch.public_id: "1"},
    }
    answers = []
    for external_id in ("out-1", "never-sent"):
        for data in (payload, {**payload, "amount": usd(17)}):
            with pytest.raises(PermissionDenied) as caught:
                revenue.record_revenue(
                    db, song.bo, {**data, "external_id": external_id}, default_fee_rate=FEE
                )
            answers.append((type(caught.value), caught.value.message))
    assert len(set(answers)) == 1
    assert count(db, RevenueEvent) == 1


def test_an_owner_who_may_read_the_event_but_not_send_it_gets_no_replay(
    db: Session, song: Song
) -> None:
    sale = {"work": song.night_swim.public_id, "amount": usd(5), "currency": "USD"}
    revenue.record_revenue(db, song.admin, {**sale, "external_id": "sale-1"}, default_fee_rate=FEE)
    assert revenue.visible_event(db, song.dee, "sale-1").state == "settled"  # Dee produced it
    answers = set()
    for external_id in ("sale-1", "never-sent"):
        with pytest.raises(PermissionDenied) as caught:
            revenue.record_revenue(
                db, song.dee, {**sale, "external_id": external_id}, default_fee_rate=FEE
            )
        answers.add(caught.value.message)
    assert len(answers) == 1


def test_another_senders_id_is_taken_without_revealing_what_it_holds(
    db: Session, song: Song
) -> None:
    report(db, song)
    own_model = make_work(db, "model", "Dee's model", {song.dee: 1}, {song.tide: "1/2"})
    with pytest.raises(IdempotencyConflict) as caught:
        revenue.record_revenue(
            db,
            song.dee,
            {"work": own_model.public_id, "amount": 1, "currency": "USD", "external_id": "out-1"},
            default_fee_rate=FEE,
        )
    assert caught.value.message == (
        "external_id out-1 is already in use; send the event under another id"
    )
    assert count(db, RevenueEvent) == 1


def test_the_sender_and_admins_replay_as_before(db: Session, song: Song) -> None:
    first = report(db, song)
    assert report(db, song).id == first.id
    with pytest.raises(IdempotencyConflict, match="another payload"):
        report(db, song, amount=usd(17))
    for who in (song.cy, song.admin):
        assert revenue.visible_event(db, who, "out-1").id == first.id
    with pytest.raises(NotFound):
        revenue.visible_event(db, song.bo, "out-1")


# --- the ledger check ------------------------------------------------------------------------


def test_ledger_check_finds_unsettled_revenue_no_event_explains(db: Session, song: Song) -> None:
    report(db, song)
    funding.confirm_funding(db, song.admin, "out-1")
    assert ledger.check_invariants(db) == []
    with unit_of_work(db):
        ledger.post_transaction(
            db, "stray", "revenue_funding", ledger.revenue_funding_postings("USD", 5)
        )
    assert ledger.check_invariants(db) == [
        "USD: unsettled revenue holds 5 micros, but the funded events not yet settled sum to 0"
    ]


def test_ledger_check_finds_a_funding_that_does_not_take_the_amount_in(
    db: Session, song: Song
) -> None:
    with unit_of_work(db):
        short = ledger.post_transaction(
            db, "short", "revenue_funding", ledger.revenue_funding_postings("USD", usd(1))
        )
    # Written below the service: an event of 2 USD "funded" by a transaction of 1 USD.
    db.execute(
        insert(RevenueEvent).values(
            external_id="short-1",
            payload_hash="0" * 64,
            origin="api",
            state="funded",
            work_id=song.model.id,
            currency="USD",
            amount=usd(2),
            costs=0,
            fee_rate_num=0,
            fee_rate_den=1,
            fee=0,
            recouped=0,
            distributable=0,
            funding_transaction_id=short.id,
            rejection_reason="",
        )
    )
    breaches = ledger.check_invariants(db)
    assert "event short-1: its funding transaction does not take in its amount" in breaches
    assert (
        f"USD: unsettled revenue holds {usd(1)} micros, but the funded events not yet settled "
        f"sum to {usd(2)}"
    ) in breaches


def test_the_database_refuses_a_settled_event_without_its_funding(db: Session, song: Song) -> None:
    event = report(db, song)
    with unit_of_work(db):
        tx = ledger.post_transaction(
            db, "some", "revenue_funding", ledger.revenue_funding_postings("USD", 0)
        )
    with pytest.raises(IntegrityError), db.begin_nested():
        event.state, event.transaction_id = "settled", tx.id
        db.flush()
    db.rollback()
    assert revenue.get_event(db, "out-1").state == "reported"


# --- expected earnings ------------------------------------------------------------------------


def test_expected_earnings_are_what_funding_will_pay_and_never_balance(
    db: Session, song: Song
) -> None:
    report(db, song)
    before = statements.earnings(db, song.ana.id)
    assert before.balances == {} and before.lines == []
    assert [(e.event, e.kind, e.work_id) for e in before.expected] == [
        ("out-1", "earning", song.model.public_id)
    ]
    assert any("to your record Shoreline" in line for line in before.expected[0].lines)

    funding.confirm_funding(db, song.admin, "out-1")
    after = statements.earnings(db, song.ana.id)
    assert after.expected == []
    assert after.balances == before.expected_totals
    [line] = after.lines
    assert (line.amount, line.exact, line.lines) == (
        before.expected[0].amount,
        before.expected[0].exact,
        before.expected[0].lines,
    )


def test_expected_earnings_concern_only_works_that_reach_the_creator(
    db: Session, song: Song
) -> None:
    report(db, song)
    assert statements.earnings(db, song.bo.id).expected == []  # Tide is not in the manifest
    assert [e.event for e in statements.earnings(db, song.cy.id).expected] == ["out-1"]


def test_a_rejected_report_is_no_longer_expected(db: Session, song: Song) -> None:
    report(db, song)
    funding.reject_report(db, song.admin, "out-1")
    assert statements.earnings(db, song.ana.id).expected == []


def test_expected_earnings_list_the_latest_reports_and_say_when_there_are_more(
    db: Session, song: Song
) -> None:
    for n in range(3):
        report(db, song, f"out-{n}")
    parts, more = funding.expected_allocations(db, song.ana.id, limit=2)
    assert [p.event.external_id for p in parts] == ["out-2", "out-1"] and more
    parts, more = funding.expected_allocations(db, song.ana.id, limit=3)
    assert len(parts) == 3 and not more


def test_expected_earnings_past_the_citer_limit_come_from_the_newest_events(
    db: Session, song: Song, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        report(db, song, f"out-{n}")
    walked = funding.expected_allocations(db, song.ana.id, limit=2)
    # A creator whose works have more citers than the walk reads: the newest
    # events are settled instead, with the same parts and the same "more".
    monkeypatch.setattr(funding, "REACH_LIMIT", 0)
    scanned = funding.expected_allocations(db, song.ana.id, limit=2)
    assert [(p.event.external_id, p.kind, p.amount, p.exact) for p in scanned[0]] == [
        (p.event.external_id, p.kind, p.amount, p.exact) for p in walked[0]
    ]
    assert scanned[1] is walked[1] is True
    assert funding.expected_allocations(db, song.bo.id) == ([], False)
    # Older events than the scan reads are not listed (the walk would find them).
    monkeypatch.setattr(funding, "EXPECTED_SCAN", 1)
    parts, more = funding.expected_allocations(db, song.ana.id, limit=2)
    assert [p.event.external_id for p in parts] == ["out-2"] and not more


def test_no_expected_earnings_without_events_in_the_state(db: Session, song: Song) -> None:
    assert funding.expected_allocations(db, song.ana.id) == ([], False)
    assert funding.expected_allocations(db, song.ana.id, state="funded") == ([], False)
    report(db, song)
    assert funding.expected_allocations(db, song.ana.id, state="funded") == ([], False)


def test_expected_recouped_costs_are_shown_too(db: Session, song: Song) -> None:
    revenue.record_revenue(
        db,
        song.cy,
        {
            "work": song.model.public_id,
            "amount": usd(10),
            "currency": "USD",
            "costs": usd(4),
            "external_id": "costly",
        },
        default_fee_rate=FEE,
    )
    kinds = {e.kind: e.amount for e in statements.earnings(db, song.cy.id).expected}
    assert kinds["recoup"] == usd(4)
    funding.confirm_funding(db, song.admin, "costly")
    settled = {
        (a.kind): a.amount
        for a in revenue.get_event(db, "costly").allocations
        if a.creator_id == song.cy.id
    }
    assert settled == kinds
