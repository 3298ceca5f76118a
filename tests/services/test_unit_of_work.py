"""The unit of work: hooks belong to the transaction or SAVEPOINT they were registered in."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator
from hitrack.services.unit_of_work import (
    after_commit,
    on_rollback,
    read_only,
    set_rollback,
    unit_of_work,
)


def creators(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Creator)) or 0


def test_after_commit_hooks_wait_for_the_outer_commit_past_a_released_savepoint(
    db: Session,
) -> None:
    ran: list[str] = []
    with unit_of_work(db):
        after_commit(db, lambda: ran.append("committed"))
        on_rollback(db, lambda: ran.append("rolled back"))
        with db.begin_nested():
            after_commit(db, lambda: ran.append("inner committed"))
        assert ran == []  # releasing the SAVEPOINT is not the commit
    assert ran == ["committed", "inner committed"]


def test_a_rolled_back_savepoint_undoes_only_its_own_hooks(db: Session) -> None:
    ran: list[str] = []
    with unit_of_work(db):
        after_commit(db, lambda: ran.append("outer committed"))
        with pytest.raises(ValueError), db.begin_nested():
            after_commit(db, lambda: ran.append("inner committed"))
            on_rollback(db, lambda: ran.append("inner rolled back"))
            raise ValueError
        assert ran == ["inner rolled back"]
    assert ran == ["inner rolled back", "outer committed"]


def test_a_failed_unit_of_work_runs_its_rollback_hooks_and_drops_the_others(db: Session) -> None:
    ran: list[str] = []
    with pytest.raises(ValueError), unit_of_work(db):
        after_commit(db, lambda: ran.append("committed"))
        on_rollback(db, lambda: ran.append("rolled back"))
        raise ValueError
    assert ran == ["rolled back"]
    with unit_of_work(db):
        pass
    assert ran == ["rolled back"]  # nothing left over for the next transaction


def test_closing_the_session_without_a_commit_runs_the_rollback_hooks(db: Session) -> None:
    ran: list[str] = []
    on_rollback(db, lambda: ran.append("rolled back"))
    db.close()
    assert ran == ["rolled back"]


def test_set_rollback_ends_the_unit_of_work_without_its_writes(db: Session) -> None:
    ran: list[str] = []
    before = creators(db)
    with unit_of_work(db):
        db.add(Creator(handle="nobody", display_name="Nobody"))
        db.flush()
        on_rollback(db, lambda: ran.append("rolled back"))
        set_rollback(db)
    assert creators(db) == before and ran == ["rolled back"]
    with unit_of_work(db):  # the next unit of work commits as usual
        db.add(Creator(handle="somebody", display_name="Somebody"))
    assert creators(db) == before + 1


def test_set_rollback_outside_a_unit_of_work_is_refused(db: Session) -> None:
    with pytest.raises(RuntimeError, match="outside a unit of work"):
        set_rollback(db)


def test_read_only_ends_its_transaction_even_when_the_block_fails(db: Session) -> None:
    with read_only(db):
        creators(db)
    assert not db.in_transaction()
    with pytest.raises(ValueError), read_only(db):
        creators(db)
        raise ValueError
    assert not db.in_transaction()
