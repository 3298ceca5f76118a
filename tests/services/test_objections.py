"""Objections close the loop: the producer answers or resolves each one, and finalizing
over open ones needs a confirmation.

Time is passed in (``now=``); nothing here sleeps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hitrack.db.models import Notification, ProductionLog
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.services import productions as prod
from tests.services import test_productions as production_tests
from tests.services.test_productions import T0, WINDOW, draft, proposed

cast = production_tests.cast

LATER = T0 + WINDOW + timedelta(minutes=1)


def object_to(db, cast, production, who="ana", text="40% of 40% is too little"):  # type: ignore[no-untyped-def]
    return prod.add_comment(db, cast[who], production.public_id, text, objection=True, now=T0)


def test_the_producer_answers_an_objection_and_its_author_is_told(db, cast):
    production = proposed(db, cast)
    objection = object_to(db, cast, production)
    prod.answer_objection(
        db, cast["dana"], production.public_id, objection.id, "Tide carries the melody", now=T0
    )
    assert objection.answer == "Tide carries the melody" and objection.answered_at == T0
    assert objection.is_open_objection  # answered, not yet resolved
    [note] = db.scalars(select(Notification).where(Notification.kind == "objection_answered")).all()
    assert note.creator_id == cast["ana"].id and "Tide carries the melody" in note.message
    assert note.url == f"/productions/{production.public_id}#comments"


def test_a_resolved_objection_is_closed_and_logged(db, cast):
    production = proposed(db, cast)
    objection = object_to(db, cast, production)
    prod.answer_objection(
        db, cast["dana"], production.public_id, objection.id, resolve=True, now=T0
    )
    assert objection.resolved_at == T0 and not objection.is_open_objection
    assert prod.open_objections(db, production) == []
    actions = [e.action for e in db.scalars(select(ProductionLog).order_by(ProductionLog.id))]
    assert actions[-1] == "objection_resolved"
    with pytest.raises(Conflict, match="was resolved"):
        prod.answer_objection(db, cast["dana"], production.public_id, objection.id, "again")


def test_only_the_producer_answers_and_only_objections(db, cast):
    production = proposed(db, cast)
    objection = object_to(db, cast, production)
    comment = prod.add_comment(db, cast["eve"], production.public_id, "Lovely", now=T0)
    with pytest.raises(PermissionDenied):
        prod.answer_objection(db, cast["bo"], production.public_id, objection.id, "no")
    with pytest.raises(Conflict, match="not an objection"):
        prod.answer_objection(db, cast["dana"], production.public_id, comment.id, "thanks")
    with pytest.raises(NotFound):
        prod.answer_objection(db, cast["dana"], production.public_id, 987654, "x")
    with pytest.raises(NotFound):
        prod.answer_objection(db, cast["dana"], production.public_id, "not-a-number", "x")
    with pytest.raises(InvalidInput, match="answer"):
        prod.answer_objection(db, cast["dana"], production.public_id, objection.id, "   ")
    db.refresh(objection)
    assert objection.answer is None and objection.resolved_at is None


def test_an_objection_of_another_production_is_not_found(db, cast):
    first = proposed(db, cast)
    objection = object_to(db, cast, first)
    second = draft(db, cast)
    with pytest.raises(NotFound):
        prod.answer_objection(db, cast["dana"], second.public_id, objection.id, "x")


def test_finalizing_over_open_objections_needs_a_confirmation(db, cast):
    production = proposed(db, cast)
    objection = object_to(db, cast, production)
    with pytest.raises(Conflict, match="1 objection"):
        prod.finalize(db, cast["dana"], production.public_id, now=LATER)
    assert production.status == "proposed"
    prod.finalize(db, cast["dana"], production.public_id, confirm_open_objections=True, now=LATER)
    assert production.status == "finalized"
    entry = db.scalars(select(ProductionLog).where(ProductionLog.action == "finalized")).one()
    assert entry.detail["open_objections"] == [objection.id]
    with pytest.raises(Conflict, match="finalized"):
        prod.answer_objection(db, cast["dana"], production.public_id, objection.id, "late")


def test_finalizing_after_every_objection_is_resolved_needs_no_confirmation(db, cast):
    production = proposed(db, cast)
    objection = object_to(db, cast, production)
    prod.answer_objection(
        db, cast["dana"], production.public_id, objection.id, "Fixed in 2", resolve=True, now=T0
    )
    prod.finalize(db, cast["dana"], production.public_id, now=LATER)
    assert production.status == "finalized"
