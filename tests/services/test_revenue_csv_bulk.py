"""The bulk path of a CSV revenue import: recorded in chunks with COPY, then settled one by one.

Every event of an import is its own settlement, to the micro what it would be
alone; a bad line in any chunk, or a refusal while settling, leaves nothing.
"""

from __future__ import annotations

import csv
import json
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.models import (
    Allocation,
    CreditEarning,
    LedgerPosting,
    LedgerTransaction,
    RevenueEvent,
)
from hitrack.domain.errors import InvalidInput
from hitrack.services import credits, ledger, revenue, settlement
from tests.factories import Song, make_song, reference_micros, stored_micros, usd
from tests.services.test_credits import make_film

FEE = Fraction(1, 10)
HEADER = "external_id,work,amount,currency,costs,fee_rate,attribution\n"


@pytest.fixture
def song(db: Session) -> Song:
    return make_song(db)


def stored_rows(db: Session) -> tuple[int, int, int, int]:
    return tuple(  # type: ignore[return-value]
        db.scalar(select(func.count()).select_from(table)) or 0
        for table in (RevenueEvent, Allocation, LedgerTransaction, LedgerPosting)
    )


def rows(song: Song) -> str:
    """Seven events over every kind of work, with costs, fees and an attribution."""
    blend = json.dumps({song.shoreline.public_id: 3, song.sketch.public_id: 1}).replace('"', '""')
    return HEADER + "".join(
        [
            f"b1,{song.night_swim.public_id},{usd(100)},USD,{usd(10)},0.1,\n",
            f"b2,{song.shoreline.public_id},{usd(3) + 1},USD,,,\n",
            f"b3,{song.tide.public_id},7,USD,0,1/3,\n",
            f'b4,{song.model.public_id},{usd(16)},USD,,0,"{blend}"\n',
            f"b5,{song.sketch.public_id},{usd(1) + 3},USD,1,,\n",
            f"b6,{song.night_swim.public_id},0,USD,,,\n",
            f"b7,{song.model.public_id},{usd(2) + 1},USD,,,\n",
        ]
    )


def test_each_imported_event_is_settled_exactly_as_if_alone(db: Session, song: Song) -> None:
    seen: list[int] = []
    result = revenue.import_csv(
        db, rows(song), None, default_fee_rate=FEE, chunk_rows=2, progress=seen.append
    )
    assert (result.created, result.settled, result.held, len(seen)) == (7, 7, 0, 7)
    for n in range(1, 8):
        event = revenue.get_event(db, f"b{n}")
        assert (event.state, event.origin, event.funding_method) == ("settled", "csv", "on_arrival")
        assert event.funding_transaction_id is not None and event.transaction_id is not None
        assert event.graph_version is not None
        assert stored_micros(event) == {k: v for k, v in reference_micros(db, event).items() if v}
        assert event.fee + event.recouped + sum(
            a.amount for a in event.allocations if a.kind == "earning"
        ) == (event.amount)
    model_event = revenue.get_event(db, "b4")
    assert model_event.attribution == {song.shoreline.public_id: "3", song.sketch.public_id: "1"}
    assert revenue.get_event(db, "b3").fee_rate == Fraction(1, 3)
    assert ledger.check_invariants(db) == []


def test_an_import_settles_like_the_same_events_sent_one_by_one(db: Session, song: Song) -> None:
    revenue.import_csv(db, rows(song), None, default_fee_rate=FEE, chunk_rows=3)
    text = rows(song).splitlines()[1:]
    for line in text:
        external_id, work, amount, currency, costs, fee_rate, *attribution = next(
            csv.reader([line])
        )
        data = {
            "external_id": f"one-{external_id}",
            "work": work,
            "amount": amount,
            "currency": currency,
            "costs": costs,
            "fee_rate": fee_rate,
            "attribution": attribution[0] if attribution else "",
        }
        alone = revenue.record_revenue(
            db, None, {k: v for k, v in data.items() if v}, default_fee_rate=FEE
        ).event
        imported = revenue.get_event(db, external_id)
        alone = revenue.get_event(db, alone.external_id)
        assert stored_micros(imported) == stored_micros(alone)
        assert (imported.fee, imported.recouped, imported.distributable) == (
            alone.fee,
            alone.recouped,
            alone.distributable,
        )


def test_a_bad_line_in_a_later_chunk_leaves_nothing_stored(db: Session, song: Song) -> None:
    before = stored_rows(db)
    cash = ledger.balance(db, ledger.cash_account("USD"))
    text = rows(song) + f"b8,{song.shoreline.public_id},-1,USD,,,\n"
    with pytest.raises(revenue.ImportError_) as caught:
        revenue.import_csv(db, text, None, default_fee_rate=FEE, chunk_rows=2)
    assert caught.value.errors == [(9, "amount: -1 is negative")]
    assert stored_rows(db) == before
    assert ledger.balance(db, ledger.cash_account("USD")) == cash
    assert ledger.check_invariants(db) == []


def test_bad_lines_in_several_chunks_are_all_named_and_nothing_is_stored(
    db: Session, song: Song
) -> None:
    before = stored_rows(db)
    lines = rows(song).splitlines(keepends=True)
    lines.insert(2, f"x1,{song.shoreline.public_id},5,USD,,0.12345678901234567890123,\n")
    lines.insert(6, "x2,nope,5,USD,,,\n")
    lines.append(f"b1,{song.night_swim.public_id},{usd(101)},USD,{usd(10)},0.1,\n")
    with pytest.raises(revenue.ImportError_) as caught:
        revenue.import_csv(db, "".join(lines), None, default_fee_rate=FEE, chunk_rows=2)
    assert [line for line, _ in caught.value.errors] == [3, 7, 11]
    assert "too many digits" in caught.value.errors[0][1]
    assert caught.value.errors[1][1] == "work nope not found"
    assert "also on line 2" in caught.value.errors[2][1]
    assert stored_rows(db) == before


def test_a_work_that_settles_per_period_holds_its_imported_events_funded(
    db: Session, song: Song
) -> None:
    song.tide.settlement_mode = "period"
    db.commit()
    unsettled = ledger.balance(db, ledger.unsettled_account("USD"))
    text = HEADER + (
        f"p1,{song.tide.public_id},{usd(4)},USD,,,\n"
        f"p2,{song.shoreline.public_id},{usd(2)},USD,,,\n"
        f"p3,{song.tide.public_id},{usd(1)},USD,,,\n"
    )
    seen: list[int] = []
    result = revenue.import_csv(db, text, None, default_fee_rate=FEE, progress=seen.append)
    assert (result.created, result.settled, result.held, len(seen)) == (3, 1, 2, 3)
    assert "1 settled, 2 held for the settlement period" in result.summary()
    for external_id in ("p1", "p3"):
        held = revenue.get_event(db, external_id)
        assert (held.state, held.transaction_id, held.allocations) == ("funded", None, [])
        assert held.funding_transaction_id is not None
    assert revenue.get_event(db, "p2").state == "settled"
    # The held events' money waits as unsettled revenue for the period, which settles them.
    assert ledger.balance(db, ledger.unsettled_account("USD")) - unsettled == -usd(5)
    assert ledger.check_invariants(db) == []
    period = settlement.close_currency(db, utcnow(), "USD")
    assert period is not None and period.events == 2
    for external_id in ("p1", "p3"):
        assert revenue.get_event(db, external_id).period_id == period.id
    assert ledger.balance(db, ledger.unsettled_account("USD")) == unsettled
    assert ledger.check_invariants(db) == []


def test_a_rerun_with_new_rows_records_only_the_new_ones(db: Session, song: Song) -> None:
    revenue.import_csv(db, rows(song), None, default_fee_rate=FEE, chunk_rows=2)
    before = stored_rows(db)
    text = rows(song) + f"b8,{song.shoreline.public_id},{usd(1)},USD,,,\n"
    result = revenue.import_csv(db, text, song.admin, default_fee_rate=FEE, chunk_rows=3)
    assert (result.rows, result.created, result.replayed, result.settled) == (8, 1, 7, 1)
    assert stored_rows(db)[0] == before[0] + 1
    assert ledger.check_invariants(db) == []


def test_a_rerun_with_another_payload_names_the_line_and_stores_nothing(
    db: Session, song: Song
) -> None:
    revenue.import_csv(db, rows(song), None, default_fee_rate=FEE)
    before = stored_rows(db)
    text = (
        HEADER
        + f"b9,{song.shoreline.public_id},{usd(1)},USD,,,\n"
        + f"b2,{song.shoreline.public_id},{usd(3) + 2},USD,,,\n"
    )
    with pytest.raises(revenue.ImportError_) as caught:
        revenue.import_csv(db, text, None, default_fee_rate=FEE, chunk_rows=1)
    assert caught.value.errors == [
        (3, "revenue event b2 was already recorded with another payload")
    ]
    assert stored_rows(db) == before


def test_an_import_past_the_ledgers_account_cap_is_refused_with_nothing_stored(
    db: Session, song: Song
) -> None:
    # 1,001 events of the largest amount: the cash account would pass 10**18 micros
    # in the third chunk, after two chunks were already written.
    before = stored_rows(db)
    text = HEADER + "".join(
        f"cap{i},{song.shoreline.public_id},{10**15},USD,,,\n" for i in range(1001)
    )
    with pytest.raises(InvalidInput, match="nothing was posted"):
        revenue.import_csv(db, text, None, default_fee_rate=FEE, chunk_rows=400)
    assert stored_rows(db) == before
    assert ledger.check_invariants(db) == []


def test_an_imported_event_escrows_an_unclaimed_credits_part(db: Session) -> None:
    film = make_film(db)
    text = HEADER + "".join(
        f"f{i},{film.work.public_id},{usd(100) + i},USD,,0,\n" for i in range(3)
    )
    result = revenue.import_csv(db, text, None, default_fee_rate=FEE, chunk_rows=2)
    assert result.settled == 3
    earnings = db.scalars(select(CreditEarning).order_by(CreditEarning.event_id)).all()
    assert [e.credit_id for e in earnings] == [film.kim_credit.id] * 3
    assert credits.escrow_balances(db, film.kim_credit) == {"USD": sum(e.amount for e in earnings)}
    for i in range(3):
        event = revenue.get_event(db, f"f{i}")
        escrowed = sum(e.amount for e in earnings if e.event_id == event.id)
        assert escrowed > 0
        assert event.fee + sum(a.amount for a in event.allocations) + escrowed == event.amount
    assert ledger.check_invariants(db) == []
