"""A work's settlement mode: seen by all, chosen by its owners or admins, and obeyed by revenue."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy.orm import Session

from hitrack.domain.errors import InvalidInput, NotFound, PermissionDenied
from hitrack.services import revenue, settlement_modes
from tests.factories import make_person, make_song, usd


def test_a_model_defaults_by_size_and_its_operator_can_choose_per_event_or_period(
    db: Session,
) -> None:
    song = make_song(db)
    setting = settlement_modes.settlement_setting(db, song.model, period_min_sources=2)
    assert (setting.mode, setting.chosen) == ("period", None)  # two sources: a "large" model
    assert settlement_modes.settlement_setting(db, song.model, period_min_sources=3).mode == (
        "immediate"
    )
    chosen = settlement_modes.set_settlement_mode(
        db, song.cy, song.model.public_id, "immediate", period_min_sources=2
    )
    assert (chosen.mode, chosen.chosen) == ("immediate", "immediate")
    back = settlement_modes.set_settlement_mode(
        db, song.admin, song.model.public_id, None, period_min_sources=2
    )
    assert (back.mode, back.chosen) == ("period", None)


def test_revenue_follows_the_chosen_mode(db: Session) -> None:
    song = make_song(db)
    settlement_modes.set_settlement_mode(
        db, song.ana, song.shoreline.public_id, "period", period_min_sources=10_000
    )
    event = revenue.record_revenue(
        db,
        song.admin,
        {
            "external_id": "mode-1",
            "work": song.shoreline.public_id,
            "amount": usd(10),
            "currency": "USD",
        },
        default_fee_rate=Fraction(0),
    ).event
    assert event.state == "funded"  # waits for the next settlement period
    settlement_modes.set_settlement_mode(
        db, song.ana, song.shoreline.public_id, "immediate", period_min_sources=10_000
    )
    later = revenue.record_revenue(
        db,
        song.admin,
        {
            "external_id": "mode-2",
            "work": song.shoreline.public_id,
            "amount": usd(10),
            "currency": "USD",
        },
        default_fee_rate=Fraction(0),
    ).event
    assert later.state == "settled"


@pytest.mark.parametrize("mode", ["weekly", "", 3, True, ["period"]])
def test_a_mode_outside_the_vocabulary_is_refused_and_nothing_changes(
    db: Session, mode: object
) -> None:
    song = make_song(db)
    with pytest.raises(InvalidInput, match="mode"):
        settlement_modes.set_settlement_mode(
            db, song.cy, song.model.public_id, mode, period_min_sources=2
        )
    db.refresh(song.model)
    assert song.model.settlement_mode is None


def test_only_owners_and_admins_choose(db: Session) -> None:
    song = make_song(db)
    stranger = make_person(db, "Eve")
    with pytest.raises(PermissionDenied):
        settlement_modes.set_settlement_mode(
            db, stranger, song.model.public_id, "period", period_min_sources=2
        )
    with pytest.raises(NotFound):
        settlement_modes.set_settlement_mode(db, stranger, "nope", "period", period_min_sources=2)
    db.refresh(song.model)
    assert song.model.settlement_mode is None
