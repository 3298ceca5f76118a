"""Subjects of a record: their AI-training consent gates model manifests, for the future only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import RecordSubject, Work
from hitrack.domain.errors import ConsentRequired, InvalidInput, PermissionDenied
from hitrack.services import ai_models, likeness
from hitrack.services.likeness import SubjectEntry
from tests.factories import make_person, make_work


def models(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Work).where(Work.kind == "model")) or 0


def test_a_record_enters_a_manifest_only_when_every_subject_consented(db: Session) -> None:
    studio, lab, gina = make_person(db, "Studio"), make_person(db, "Lab"), make_person(db, "Gina")
    film = make_work(db, "record", "Night Film", {studio: 1}, ai_training=True)
    [gina_s, kim_s] = likeness.set_subjects(
        db,
        studio,
        film.public_id,
        (
            SubjectEntry(likeness="face", creator=gina.handle),
            SubjectEntry(name="Kim", likeness="voice", email="kim@film.test"),
        ),
    )
    with pytest.raises(ConsentRequired, match=r"Night Film; Gina: not answered, Kim: not answered"):
        ai_models.register_model(db, lab, name="M", manifest={film.public_id: "1"})
    likeness.answer(db, gina, gina_s.public_id, confirm=True, consent_ai_training=True)
    kim_token = "t" * 10
    kim_s.invite_token_hash = likeness._digest(kim_token)
    db.commit()
    likeness.answer(
        db, None, kim_s.public_id, confirm=True, consent_ai_training=False, token=kim_token
    )
    with pytest.raises(ConsentRequired, match=r"Kim: refused") as refused:
        ai_models.register_model(db, lab, name="M", manifest={film.public_id: "1"})
    assert refused.value.ids == (film.public_id,)
    assert models(db) == 0
    likeness.answer(
        db, None, kim_s.public_id, confirm=True, consent_ai_training=True, token=kim_token
    )
    first = ai_models.register_model(db, lab, name="M", manifest={film.public_id: "1"})
    # Revoking later refuses future manifests only; the registered model keeps its own.
    likeness.answer(db, gina, gina_s.public_id, confirm=True, consent_ai_training=False)
    with pytest.raises(ConsentRequired, match="Gina: refused"):
        ai_models.register_model(db, lab, name="M2", manifest={film.public_id: "1"})
    kept = db.get(Work, first.model.id)
    assert kept is not None and [c.source.public_id for c in kept.sources] == [film.public_id]


def test_only_the_subject_answers_and_only_owners_list_subjects(db: Session) -> None:
    studio, gina, other = (make_person(db, n) for n in ("Studio", "Gina", "Other"))
    film = make_work(db, "record", "Night Film", {studio: 1})
    with pytest.raises(PermissionDenied):
        likeness.set_subjects(db, other, film.public_id, (SubjectEntry(creator=gina.handle),))
    with pytest.raises(InvalidInput, match="subject 1: link a creator or invite"):
        likeness.set_subjects(db, studio, film.public_id, (SubjectEntry(name="X"),))
    [subject] = likeness.set_subjects(
        db, studio, film.public_id, (SubjectEntry(creator=gina.handle),)
    )
    with pytest.raises(PermissionDenied):
        likeness.answer(db, other, subject.public_id, confirm=True, consent_ai_training=True)
    with pytest.raises(PermissionDenied):
        likeness.answer(
            db, None, subject.public_id, confirm=True, consent_ai_training=True, token="x"
        )
    db.expire_all()
    row = db.get(RecordSubject, subject.id)
    assert row is not None and row.consent_ai_training is None and row.confirmed_at is None
