"""Recording and settling revenue: validation, idempotency, allocations, explanations, CSV."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Allocation, LedgerTransaction, RevenueEvent
from hitrack.domain.errors import (
    IdempotencyConflict,
    InvalidEvent,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hitrack.services import explanations, ledger, revenue
from tests.factories import Song, make_song, make_work, usd

FEE = Fraction(0)


@pytest.fixture
def song(db: Session) -> Song:
    return make_song(db)


def record(db: Session, actor, work, amount: int, external_id: str, **extra: object):  # type: ignore[no-untyped-def]
    data = {"work": work.public_id, "amount": amount, "currency": "USD", "external_id": external_id}
    data.update(extra)
    return revenue.record_revenue(db, actor, data, default_fee_rate=FEE)


def counts(db: Session) -> tuple[int, int, int]:
    return (
        db.scalar(select(func.count()).select_from(RevenueEvent)) or 0,
        db.scalar(select(func.count()).select_from(Allocation)) or 0,
        db.scalar(select(func.count()).select_from(LedgerTransaction)) or 0,
    )


def test_a_sale_of_a_production_is_settled_exactly_into_the_ledger(db: Session, song: Song) -> None:
    event, created = record(
        db, song.admin, song.night_swim, usd(100), "sale-1", costs=usd(10), fee_rate="0.1"
    )
    assert created
    assert (event.recouped, event.fee, event.distributable) == (usd(10), usd(9), usd(81))
    by_creator = {(a.creator_id, a.kind): a.amount for a in event.allocations}
    # 81 enters Night Swim: Dee keeps 30%, Tide gets 60% (Bo keeps 60% of it, Shoreline 40%),
    # Sketch gets 10% (Cy and Ana half each).
    assert by_creator == {
        (song.dee.id, "recoup"): usd(10),
        (song.dee.id, "earning"): usd("24.3"),
        (song.bo.id, "earning"): usd("29.16"),
        (song.ana.id, "earning"): usd("19.44") + usd("4.05"),
        (song.cy.id, "earning"): usd("4.05"),
    }
    assert (
        event.recouped + event.fee + sum(a.amount for a in event.allocations if a.kind == "earning")
        == event.amount
    )
    assert ledger.creator_balances(db, song.ana.id) == {"USD": usd("23.49")}
    assert ledger.balance(db, "platform:cash:USD") == usd(100)
    assert ledger.balance(db, "platform:fees:USD") == -usd(9)
    assert ledger.check_invariants(db) == []


def test_each_allocation_explains_the_path_its_money_came_through(db: Session, song: Song) -> None:
    event, _ = record(db, song.admin, song.night_swim, usd(100), "sale-2")
    ana = next(a for a in event.allocations if a.creator_id == song.ana.id and a.kind == "earning")
    lines = explanations.explain_event(db, event, song.ana, kind="earning")
    assert (
        "Night Swim (production) earned 100.00; 60% of Night Swim’s value flows to "
        "Tide (remix by Bo); 40% of Tide’s value flows to your record Shoreline; "
        "you own all of it: 24.00 of this sale"
    ) in lines
    assert (
        "Night Swim (production) earned 100.00; 10% of Night Swim’s value flows to "
        "your record Sketch; you own 50% of it: 5.00 of this sale" in lines
    )
    assert Fraction(ana.exact) == usd(29)


def test_the_same_external_id_and_payload_returns_the_original(db: Session, song: Song) -> None:
    first, _ = record(db, song.admin, song.night_swim, usd(5), "sale-3")
    before = counts(db)
    again, created = record(db, song.admin, song.night_swim, usd(5), "sale-3")
    assert not created and again.id == first.id
    assert counts(db) == before


def test_the_same_external_id_with_another_payload_is_refused(db: Session, song: Song) -> None:
    record(db, song.admin, song.night_swim, usd(5), "sale-4")
    before = counts(db)
    with pytest.raises(IdempotencyConflict, match="sale-4"):
        record(db, song.admin, song.night_swim, usd(6), "sale-4")
    assert counts(db) == before


def test_a_production_that_is_not_finalized_earns_nothing(db: Session, song: Song) -> None:
    draft = make_work(
        db, "production", "Draft", {song.dee: 1}, {song.tide: "0.5"}, status="proposed"
    )
    with pytest.raises(InvalidEvent, match="only a finalized split earns"):
        record(db, song.admin, draft, usd(5), "sale-5")
    assert counts(db) == (0, 0, 0)


def test_only_admins_send_revenue_except_an_operator_for_their_own_model(
    db: Session, song: Song
) -> None:
    with pytest.raises(PermissionDenied):
        record(db, song.dee, song.night_swim, usd(5), "x1")
    with pytest.raises(PermissionDenied):
        record(db, song.bo, song.model, usd(5), "x2")
    with pytest.raises(PermissionDenied):
        record(db, song.ana, song.shoreline, usd(5), "x3")
    assert counts(db) == (0, 0, 0)
    event, _ = record(
        db,
        song.cy,
        song.model,
        usd(5),
        "x4",
        attribution={"" + song.shoreline.public_id: "3", song.sketch.public_id: "1"},
    )
    assert event.attribution == {song.shoreline.public_id: "3", song.sketch.public_id: "1"}


def test_a_model_event_blends_shares_with_its_attribution(db: Session, song: Song) -> None:
    # lambda 1/2, manifest 1/4 + 1/4, scores 3:1 -> Shoreline 5/16, Sketch 3/16, model keeps 1/2.
    event, _ = record(
        db,
        song.admin,
        song.model,
        usd(16),
        "model-1",
        attribution={song.shoreline.public_id: 3, song.sketch.public_id: 1},
    )
    by_creator = {a.creator_id: a.amount for a in event.allocations}
    assert by_creator == {song.ana.id: usd(5) + usd("1.5"), song.cy.id: usd(8) + usd("1.5")}


def test_attribution_outside_the_manifest_is_refused(db: Session, song: Song) -> None:
    with pytest.raises(InvalidInput, match="outside the manifest|not in the manifest"):
        record(db, song.admin, song.model, usd(1), "model-2", attribution={song.tide.public_id: 1})
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("amount", -1, "negative"),
        ("amount", "12.5", "integer number of micros"),
        ("amount", True, "integer"),
        ("costs", -5, "negative"),
        ("currency", "US", "3-letter"),
        ("fee_rate", "1.5", "outside"),
        ("fee_rate", 0.1, "not an exact number"),
        ("attribution", {"r": -1}, "negative"),
        ("colour", "blue", "unknown fields"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(
    db: Session, song: Song, field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        data = {
            "work": song.night_swim.public_id,
            "amount": usd(1),
            "currency": "USD",
            "external_id": "bad",
            field: value,
        }
        revenue.record_revenue(db, song.admin, data, default_fee_rate=FEE)
    assert counts(db) == (0, 0, 0)


def test_unknown_work_is_not_found(db: Session, song: Song) -> None:
    with pytest.raises(NotFound):
        revenue.record_revenue(
            db,
            song.admin,
            {"work": "nope", "amount": 1, "currency": "USD", "external_id": "e"},
            default_fee_rate=FEE,
        )


def test_the_default_fee_rate_comes_from_the_caller(db: Session, song: Song) -> None:
    event, _ = revenue.record_revenue(
        db,
        song.admin,
        {
            "work": song.night_swim.public_id,
            "amount": usd(10),
            "currency": "usd",
            "external_id": "fee-1",
        },
        default_fee_rate=Fraction(1, 4),
    )
    assert (event.fee, event.currency, event.fee_rate) == (usd("2.5"), "USD", Fraction(1, 4))


def test_a_zero_amount_is_recorded_without_money_moving(db: Session, song: Song) -> None:
    event, _ = record(db, song.admin, song.night_swim, 0, "zero")
    assert event.allocations == [] and event.transaction_id is not None
    assert ledger.check_invariants(db) == []


def test_sub_cent_amounts_are_split_exactly_to_the_micro(db: Session, song: Song) -> None:
    event, _ = record(db, song.admin, song.night_swim, 7, "tiny")
    assert sum(a.amount for a in event.allocations) == 7
    assert ledger.check_invariants(db) == []


# --- CSV import ------------------------------------------------------------------------


def test_a_csv_import_settles_every_row(db: Session, song: Song) -> None:
    text = (
        "external_id,work,amount,currency,costs,fee_rate\n"
        f"c1,{song.night_swim.public_id},{usd(10)},USD,0,0.1\n"
        f"c2,{song.shoreline.public_id},{usd(3)},USD,,\n"
    )
    seen: list[int] = []
    result = revenue.import_csv(db, text, song.admin, default_fee_rate=FEE, progress=seen.append)
    assert (result.created, result.replayed, len(seen)) == (2, 0, 2)
    assert "2 new events" in result.summary()
    assert ledger.check_invariants(db) == []


def test_a_csv_file_with_one_bad_line_writes_nothing_and_names_the_line(
    db: Session, song: Song
) -> None:
    text = (
        "external_id,work,amount,currency\n"
        f"c1,{song.night_swim.public_id},100,USD\n"
        f"c2,{song.night_swim.public_id},-3,USD\n"
        f"c3,{song.night_swim.public_id},100,USD\n"
    )
    with pytest.raises(revenue.ImportError_) as caught:
        revenue.import_csv(db, text, song.admin, default_fee_rate=FEE)
    assert caught.value.errors == [(3, "amount: -3 is negative")]
    assert "line 3" in str(caught.value)
    assert counts(db) == (0, 0, 0)


def test_a_csv_import_lists_every_bad_line(db: Session, song: Song) -> None:
    draft = make_work(db, "production", "Draft", {song.dee: 1}, status="draft")
    text = (
        "external_id,work,amount,currency\n"
        f"c1,nope,100,USD\n"
        f"c2,{draft.public_id},100,USD\n"
        f"c3,{song.night_swim.public_id},100,EURO\n"
        f"c4,{song.night_swim.public_id},100,USD\n"
        f"c4,{song.night_swim.public_id},101,USD\n"
    )
    with pytest.raises(revenue.ImportError_) as caught:
        revenue.import_csv(db, text, song.admin, default_fee_rate=FEE)
    assert [line for line, _ in caught.value.errors] == [2, 3, 4, 6]


def test_a_csv_import_run_twice_is_idempotent(db: Session, song: Song) -> None:
    text = f"external_id,work,amount,currency\nc1,{song.night_swim.public_id},100,USD\n"
    revenue.import_csv(db, text, song.admin, default_fee_rate=FEE)
    result = revenue.import_csv(db, text, None, default_fee_rate=FEE)
    assert (result.created, result.replayed) == (0, 1)
    assert counts(db)[0] == 1


def test_a_csv_with_wrong_columns_is_refused(db: Session, song: Song) -> None:
    with pytest.raises(revenue.ImportError_, match="missing columns: amount"):
        revenue.import_csv(db, "external_id,work,currency\n", song.admin, default_fee_rate=FEE)


def test_only_admins_import_revenue(db: Session, song: Song) -> None:
    with pytest.raises(PermissionDenied):
        revenue.import_csv(db, "external_id,work,amount,currency\n", song.ana, default_fee_rate=FEE)
