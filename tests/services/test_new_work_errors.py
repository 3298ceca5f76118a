"""A refused new work is never stored, so the refusal must not name the id drawn for it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Work
from hitrack.domain.errors import CycleError, InvalidCitation
from hitrack.services import productions as prod
from hitrack.services.graph import cite
from hitrack.services.productions import ContributionInput as C
from tests.factories import make_creator, make_record

# Ids the service draws for new works (records r…, productions p…), never shown to a user.
DRAWN_ID = re.compile(r"\b[rpm][0-9a-f]{10}\b")


def works(db: Session) -> set[str]:
    return set(db.scalars(select(Work.public_id)))


def test_a_remix_whose_shares_pass_one_names_the_new_record_not_an_id(db, storage):
    ana = make_creator(db, "Ana")
    first, second = make_record(db, storage, ana, "One"), make_record(db, storage, ana, "Two")
    before = works(db)
    with pytest.raises(InvalidCitation) as refused:
        make_record(
            db, storage, ana, "Three", sources={first.public_id: "0.6", second.public_id: "0.6"}
        )
    message = refused.value.message
    assert "your new record" in message, message
    assert set(DRAWN_ID.findall(message)) <= before, message
    assert set(refused.value.ids) <= before
    assert works(db) == before


def test_a_production_whose_shares_pass_one_names_the_new_production(db, storage):
    ana = make_creator(db, "Ana")
    first, second = make_record(db, storage, ana, "One"), make_record(db, storage, ana, "Two")
    before = works(db)
    with pytest.raises(InvalidCitation) as refused:
        prod.create_production(
            db,
            ana,
            title="Night Swim",
            contributions=[C(first.public_id, "0.7"), C(second.public_id, "0.7")],
        )
    message = refused.value.message
    assert "your new production" in message, message
    assert set(DRAWN_ID.findall(message)) <= before, message
    assert db.scalar(select(func.count()).select_from(Work)) == len(before)


def test_errors_about_stored_works_still_name_them(db, storage):
    ana = make_creator(db, "Ana")
    one = make_record(db, storage, ana, "One")
    two = make_record(db, storage, ana, "Two", sources={one.public_id: "0.5"})
    with pytest.raises(CycleError) as refused:
        cite(db, ana, one.public_id, two.public_id, "0.5")
    assert one.public_id in refused.value.message
