"""A manifest file checked as a whole: every refused row named, nothing stored unless all pass."""

from __future__ import annotations

import hashlib
import io
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Notification, SearchEntry, Work
from hitrack.services import ai_models, likeness, manifests, search
from hitrack.services.likeness import SubjectEntry
from tests.factories import PNG, make_creator, make_person, make_record, make_work


def model_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Work).where(Work.kind == "model")) or 0


@pytest.fixture
def catalogue(db: Session, storage):  # type: ignore[no-untyped-def]
    owner = make_creator(db, "Owner")
    lab = make_creator(db, "Lab")
    open_ = [make_record(db, storage, owner, f"Open {i}", ai_training=True) for i in range(3)]
    closed = make_record(db, storage, owner, "Closed", ai_training=False)
    hashed = make_record(db, storage, owner, "Hashed", ai_training=True, data=PNG + b"x")
    model = ai_models.register_model(
        db, lab, name="Big", manifest={open_[0].public_id: "1"}, retained="1/2"
    ).model
    return lab, model, open_, closed, hashed


def register(db, lab, model, text, version="2", retained="1/2"):  # type: ignore[no-untyped-def]
    return manifests.register_manifest(
        db,
        lab,
        io.BytesIO(text.encode()),
        {
            "model": model.public_id,
            "version": version,
            "retained": retained,
            "attribution_weight": "0",
        },
    )


def test_a_csv_manifest_registers_a_new_version_with_exact_shares(db, catalogue):
    lab, model, open_, _closed, hashed = catalogue
    digest = hashlib.sha256(PNG + b"x").hexdigest()
    text = f"record,weight\n{open_[0].public_id},3\n{open_[1].public_id},1\nsha256:{digest},\n"
    result = register(db, lab, model, text)
    assert result["records"] == 3
    version = db.scalar(select(Work).where(Work.public_id == result["model"]))
    assert version.family_id == model.id and version.version == "2"
    shares = {c.source.public_id: c.share for c in version.sources}
    assert shares == {
        open_[0].public_id: Fraction(3, 10),
        open_[1].public_id: Fraction(1, 10),
        hashed.public_id: Fraction(1, 10),
    }
    assert shares == ai_models.manifest_shares(
        {
            open_[0].public_id: Fraction(3),
            open_[1].public_id: Fraction(1),
            hashed.public_id: Fraction(1),
        },
        Fraction(1, 2),
    )


def test_json_lines_work_too(db, catalogue):
    lab, model, open_, *_ = catalogue
    text = "\n".join(f'{{"record": "{w.public_id}", "weight": 0.5}}' for w in open_) + "\n"
    result = register(db, lab, model, text, retained="0")
    version = db.scalar(select(Work).where(Work.public_id == result["model"]))
    assert sorted(c.share for c in version.sources) == [Fraction(1, 3)] * 3


def test_every_refused_row_is_named_and_nothing_is_stored(db, catalogue):
    lab, model, open_, closed, _hashed = catalogue
    before = (model_count(db), db.scalar(select(func.count()).select_from(Citation)))
    text = "\n".join(
        [
            f"{open_[0].public_id},1",  # row 1: fine
            f"{closed.public_id},1",  # 2: no AI consent
            "rec_nope,1",  # 3: unknown
            f"sha256:{'0' * 64},1",  # 4: unknown digest
            f"{open_[1].public_id},-2",  # 5: bad weight
            f"{open_[0].public_id},1",  # 6: twice
            f"{model.public_id},1",  # 7: not a record
            "a,b,c",  # 8: malformed
        ]
    )
    with pytest.raises(manifests.ManifestRefused) as refused:
        register(db, lab, model, text)
    rows = dict(refused.value.rows)
    assert set(rows) == {2, 3, 4, 5, 6, 7, 8}
    assert "not consented to AI training" in rows[2] and closed.public_id in rows[2]
    assert rows[3] == "unknown record rec_nope"
    assert "no record has the sha256" in rows[4]
    assert "weight must be positive" in rows[5]
    assert "listed twice (first on row 1)" in rows[6]
    assert "trains on records only" in rows[7]
    assert "expected a record id" in rows[8]
    assert "7 manifest row(s) refused" in str(refused.value)
    assert (model_count(db), db.scalar(select(func.count()).select_from(Citation))) == before


def test_a_record_whose_subject_has_not_consented_is_refused(db: Session) -> None:
    studio, lab, gina = make_person(db, "Studio"), make_person(db, "Lab"), make_person(db, "Gina")
    film = make_work(db, "record", "Night Film", {studio: 1}, ai_training=True)
    other = make_work(db, "record", "Day Film", {studio: 1}, ai_training=True)
    model = ai_models.register_model(db, lab, name="M", manifest={other.public_id: "1"}).model
    [subject] = likeness.set_subjects(
        db, studio, film.public_id, (SubjectEntry(likeness="face", creator=gina.handle),)
    )
    with pytest.raises(manifests.ManifestRefused) as refused:
        register(db, lab, model, f"{film.public_id}\n{other.public_id}\n")
    assert refused.value.rows == [
        (
            1,
            f"{film.public_id} (Night Film): its subjects have not all consented to AI "
            "training (Gina: not answered)",
        )
    ]
    likeness.answer(db, gina, subject.public_id, confirm=True, consent_ai_training=True)
    assert register(db, lab, model, f"{film.public_id}\n{other.public_id}\n")["records"] == 2


def test_only_the_operator_registers_and_a_version_is_registered_once(db, catalogue):
    lab, model, open_, *_ = catalogue
    stranger = make_creator(db, "Stranger")
    from hitrack.domain.errors import Conflict, PermissionDenied

    with pytest.raises(PermissionDenied):
        register(db, stranger, model, f"{open_[0].public_id}\n")
    with pytest.raises(Conflict):
        register(db, lab, model, f"{open_[0].public_id}\n", version="1")


def test_rows_are_checked_a_chunk_at_a_time(db, catalogue, monkeypatch):
    """Many rows: lookups per chunk, and the same answer as one chunk."""
    lab, model, open_, closed, _ = catalogue
    rows = [f"{open_[i % 3].public_id}" for i in range(3)] + [closed.public_id] * 2
    monkeypatch.setattr(manifests, "CHUNK", 2)
    with pytest.raises(manifests.ManifestRefused) as refused:
        register(db, lab, model, "\n".join(rows))
    assert [n for n, _ in refused.value.rows] == [4, 5]


def test_a_registered_manifest_tells_the_owners_and_counts_the_remixes_for_search(
    db, catalogue, storage
):
    """The citations are written with COPY: the owners are notified in bulk (once each, the
    operator not), and the search entries of the cited records re-count their remixes."""
    lab, model, open_, _closed, hashed = catalogue
    other = make_creator(db, "Other")
    theirs = make_record(db, storage, other, "Theirs", ai_training=True, data=PNG + b"y")
    own = make_record(db, storage, lab, "Own", ai_training=True, data=PNG + b"z")
    before = dict(
        db.execute(
            select(Notification.creator_id, func.count()).group_by(Notification.creator_id)
        ).all()
    )
    ids = [
        open_[0].public_id,
        open_[1].public_id,
        hashed.public_id,
        theirs.public_id,
        own.public_id,
    ]
    result = register(db, lab, model, "record\n" + "".join(f"{i}\n" for i in ids))
    assert result["records"] == 5
    after = dict(
        db.execute(
            select(Notification.creator_id, func.count()).group_by(Notification.creator_id)
        ).all()
    )
    owner = open_[0].owners[0].creator_id
    assert after.get(owner, 0) - before.get(owner, 0) == 1
    assert after.get(other.id, 0) - before.get(other.id, 0) == 1
    assert after.get(lab.id, 0) == before.get(lab.id, 0)
    message = db.scalar(select(Notification.message).where(Notification.creator_id == other.id))
    assert message == "The model “Big” is trained on your work"
    remixes = dict(
        db.execute(
            select(SearchEntry.ref, SearchEntry.remixes).where(SearchEntry.ref.in_(ids))
        ).all()
    )
    # open_[0] is also in the first version's manifest.
    assert remixes == {open_[0].public_id: 2, **{i: 1 for i in ids[1:]}}
    entries = {
        e.ref: e.remixes for e in db.scalars(select(SearchEntry).where(SearchEntry.ref.in_(ids)))
    }
    search.reindex(
        db.connection(),
        works=[w.id for w in db.scalars(select(Work).where(Work.public_id.in_(ids)))],
    )
    db.expire_all()
    assert entries == dict(
        db.execute(
            select(SearchEntry.ref, SearchEntry.remixes).where(SearchEntry.ref.in_(ids))
        ).all()
    )
