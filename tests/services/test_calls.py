"""Open calls: opened by a producer, answered by creators, an answer picked into the split."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from hitrack.db.models import Notification
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.services import calls, productions
from tests.factories import PNG, WAV, make_creator, make_record

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def _call(db, storage, *, kinds=("audio",)):  # type: ignore[no-untyped-def]
    producer = make_creator(db, "Pat Producer")
    base = make_record(db, storage, producer, "Base track", data=WAV)
    production = productions.create_production(
        db,
        producer,
        title="Harbour film",
        contributions=[productions.ContributionInput(base.public_id, "1/2", "composer")],
    )
    call = calls.open_call(
        db,
        producer,
        production.public_id,
        calls.CallInput("A cello line", "Slow, in D", "2027-03-10", list(kinds)),
        now=NOW,
    )
    return producer, base, production, call


def _answer(db, storage, creator, call, *, data=WAV, sources=None, now=NOW):  # type: ignore[no-untyped-def]
    return calls.answer_call(
        db,
        storage,
        creator,
        call.public_id,
        calls.AnswerUpload(io.BytesIO(data), "cello.wav", "My cello", sources=sources),
        max_bytes=10**7,
        now=now,
    )


def test_a_call_is_answered_and_the_pick_joins_the_split_and_the_preview(db, storage):
    producer, base, production, call = _call(db, storage)
    assert call.deadline == datetime(2027, 3, 10, 23, 59, 59, tzinfo=UTC)
    cellist = make_creator(db, "Cleo Cellist")
    other = make_creator(db, "Otto")
    answer = _answer(db, storage, cellist, call, sources={base.public_id: "1/10"})
    _answer(db, storage, other, call)
    assert answer.record.sources[0].source_id == base.id  # it cites the call's context
    view = calls.call_view(db, None, call.public_id, now=NOW)
    assert [a.answered_by.display_name for a in view.answers] == ["Cleo Cellist", "Otto"]
    assert [w.public_id for w in view.context] == [base.public_id]

    calls.pick_answer(db, producer, call.public_id, answer.record.public_id, share="25%", now=NOW)
    shares = {c.source.public_id: c.share for c in production.sources}
    assert shares[answer.record.public_id] == Fraction(1, 4)
    preview = productions.preview(db, producer, production).micros_by_handle()
    assert preview[cellist.handle] > 0
    kinds = set(db.scalars(select(Notification.kind).where(Notification.creator_id == cellist.id)))
    assert "call_picked" in kinds
    assert "call_answer" in set(
        db.scalars(select(Notification.kind).where(Notification.creator_id == producer.id))
    )


def test_a_deadline_in_the_past_is_refused(db, storage):
    producer = make_creator(db, "Pat")
    production = productions.create_production(db, producer, title="Film")
    with pytest.raises(calls.DeadlinePassed, match="in the past"):
        calls.open_call(
            db,
            producer,
            production.public_id,
            calls.CallInput("x", "", "2027-02-01", ["audio"]),
            now=NOW,
        )
    with pytest.raises(InvalidInput, match="deadline"):
        calls.open_call(
            db, producer, production.public_id, calls.CallInput("x", "", "soon", ["audio"]), now=NOW
        )
    with pytest.raises(InvalidInput, match="media kind"):
        calls.open_call(
            db,
            producer,
            production.public_id,
            calls.CallInput("x", "", "2027-04-01", ["smell"]),
            now=NOW,
        )


def test_only_the_producer_opens_a_call(db, storage):
    producer = make_creator(db, "Pat")
    stranger = make_creator(db, "Sam")
    production = productions.create_production(db, producer, title="Film")
    db.commit()
    with pytest.raises((PermissionDenied, NotFound)):
        calls.open_call(
            db,
            stranger,
            production.public_id,
            calls.CallInput("x", "", "2027-04-01", ["audio"]),
            now=NOW,
        )


def test_answering_a_closed_call_is_refused_and_stores_nothing(db, storage):
    producer, _, _, call = _call(db, storage)
    cellist = make_creator(db, "Cleo")
    with pytest.raises(Conflict, match="closed"):
        _answer(db, storage, cellist, call, now=NOW + timedelta(days=30))
    calls.close_call(db, producer, call.public_id, now=NOW)
    with pytest.raises(Conflict, match="closed"):
        _answer(db, storage, cellist, call)
    assert calls.call_view(db, None, call.public_id, now=NOW).answers == []


def test_an_answer_in_a_media_kind_not_asked_for_is_refused(db, storage):
    _, _, _, call = _call(db, storage, kinds=("audio",))
    painter = make_creator(db, "Pia")
    with pytest.raises(InvalidInput, match="asks for audio, not image"):
        _answer(db, storage, painter, call, data=PNG)
    assert calls.call_view(db, None, call.public_id, now=NOW).answers == []


def test_only_the_producer_picks_and_only_once(db, storage):
    producer, _, _, call = _call(db, storage)
    cellist = make_creator(db, "Cleo")
    answer = _answer(db, storage, cellist, call)
    with pytest.raises(PermissionDenied):
        calls.pick_answer(
            db, cellist, call.public_id, answer.record.public_id, share="1/4", now=NOW
        )
    with pytest.raises(InvalidInput):
        calls.pick_answer(
            db, producer, call.public_id, answer.record.public_id, share="3/4", now=NOW
        )
    assert answer.status == "answered"
    calls.pick_answer(db, producer, call.public_id, answer.record.public_id, share="1/4", now=NOW)
    with pytest.raises(Conflict, match="already picked"):
        calls.pick_answer(
            db, producer, call.public_id, answer.record.public_id, share="1/4", now=NOW
        )
    with pytest.raises(NotFound):
        calls.pick_answer(db, producer, call.public_id, "r0000000000", share="1/4", now=NOW)


def test_open_calls_list_soonest_first_and_leave_out_closed_ones(db, storage):
    _, _, _, call = _call(db, storage)
    assert [c.public_id for c in calls.open_calls(db, None, now=NOW)] == [call.public_id]
    assert calls.open_calls(db, None, now=NOW + timedelta(days=30)) == []
