"""Owners delete only records nothing depends on, on SQLite and PostgreSQL; the rest are hidden."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Credit, Work, WorkOwner
from hitrack.domain.errors import Conflict, PermissionDenied
from hitrack.services import ai_models, record_edit, revenue
from hitrack.services import credits as credit_service
from hitrack.services.graph import graph_version
from tests.factories import make_creator, make_record, usd


def counts(db: Session) -> tuple[int, ...]:
    return tuple(
        int(db.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Work, Citation, WorkOwner, Credit)
    )


def test_a_record_is_deleted_with_its_rows_and_the_graph_moves_on(db: Session, storage) -> None:  # type: ignore[no-untyped-def]
    ana, bo = make_creator(db, "Ana"), make_creator(db, "Bo")
    shoreline = make_record(db, storage, ana, "Shoreline")
    tide = make_record(db, storage, bo, "Tide", sources={shoreline.public_id: "0.4"})
    credit_service.set_credits(
        db,
        bo,
        tide.public_id,
        credit_service.CreditsInput(
            (credit_service.CreditEntry(name="Kim", role="singer", email="kim@x.test"),), "1/4"
        ),
        min_credit_pool=Fraction(1, 10),
    )
    before, version = counts(db), graph_version(db)
    with pytest.raises(PermissionDenied):
        record_edit.delete_record(db, storage, ana, tide.public_id)
    assert counts(db) == before
    assert record_edit.delete_record(db, storage, bo, tide.public_id) == tide.public_id
    assert counts(db) == (before[0] - 1, before[1] - 1, before[2] - 1, before[3] - 1)
    assert graph_version(db) > version
    assert not storage.exists(tide.media_key)
    assert db.scalar(select(Work).where(Work.public_id == shoreline.public_id)) is not None


@pytest.mark.parametrize("why", ["cited", "earned", "in a manifest"])
def test_a_record_others_depend_on_is_refused_and_nothing_changes(
    db: Session, storage, why: str
) -> None:  # type: ignore[no-untyped-def]
    ana, bo = make_creator(db, "Ana"), make_creator(db, "Bo")
    admin = make_creator(db, "Admin", admin=True)
    record = make_record(db, storage, ana, "Shoreline", ai_training=True)
    if why == "cited":
        make_record(db, storage, bo, "Tide", sources={record.public_id: "0.4"})
    elif why == "earned":
        revenue.record_revenue(
            db,
            admin,
            {"work": record.public_id, "amount": usd(1), "currency": "USD", "external_id": "e"},
            default_fee_rate=Fraction(0),
        )
    else:
        ai_models.register_model(db, bo, name="M", manifest={record.public_id: "1"})
    before = counts(db)
    with pytest.raises(Conflict, match="hide it instead"):
        record_edit.delete_record(db, storage, ana, record.public_id)
    assert counts(db) == before and storage.exists(record.media_key)
    hidden = record_edit.set_hidden(db, ana, record.public_id, True)
    assert hidden.hidden and counts(db) == before
