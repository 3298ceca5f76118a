"""AI models: manifests by id or content hash, consent enforced, versions frozen, attribution checked."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Work
from hitrack.domain.errors import (
    Conflict,
    ConsentRequired,
    InvalidInput,
    InvalidShare,
    NotFound,
    PermissionDenied,
)
from hitrack.services import ai_models, records
from tests.factories import PNG, WAV, make_creator, make_record

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def corpus(db: Session, storage):  # type: ignore[no-untyped-def]
    ana, bo, lab = (make_creator(db, n) for n in ("Ana", "Bo", "Lab"))
    return {
        "ana": ana,
        "bo": bo,
        "lab": lab,
        "open": make_record(db, storage, ana, "Shoreline", ai_training=True, data=WAV),
        "open2": make_record(db, storage, bo, "Tide", ai_training=True, data=b"tide lyrics\n"),
        "closed": make_record(db, storage, bo, "Salt", ai_training=False, data=b"salt lyrics\n"),
        "closed2": make_record(db, storage, ana, "Sketch", ai_training=False, data=PNG),
    }


def works(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Work)) or 0


def test_registering_a_model_turns_weights_into_exact_source_shares(db, corpus):
    result = ai_models.register_model(
        db,
        corpus["lab"],
        name="Wave-1",
        version="1.0",
        retained="1/2",
        attribution_weight="0.25",
        manifest={corpus["open"].public_id: 3, corpus["open2"].public_id: "1"},
        now=T0,
    )
    model = result.model
    assert model.kind == "model" and model.status == "active" and model.version == "1.0"
    assert model.is_owned_by(corpus["lab"].id) and model.family_id is None
    assert model.attribution_weight == Fraction(1, 4)
    assert {
        c.source_id: c.share
        for c in db.scalars(select(Citation).where(Citation.work_id == model.id))
    } == {corpus["open"].id: Fraction(3, 8), corpus["open2"].id: Fraction(1, 8)}
    assert result.unmatched_hashes == []


def test_manifest_shares_are_exact_for_awkward_weights():
    shares = ai_models.manifest_shares(
        {"a": Fraction(1), "b": Fraction(1), "c": Fraction(1)}, Fraction(1, 10)
    )
    assert shares == {"a": Fraction(3, 10), "b": Fraction(3, 10), "c": Fraction(3, 10)}
    assert (
        sum(ai_models.manifest_shares({"a": Fraction(2), "b": Fraction(7)}, Fraction(0)).values())
        == 1
    )


def test_a_manifest_with_non_consented_records_is_refused_naming_each_and_nothing_is_stored(
    db, corpus
):
    before = works(db)
    with pytest.raises(ConsentRequired) as error:
        ai_models.register_model(
            db,
            corpus["lab"],
            name="Wave-1",
            manifest={
                corpus["open"].public_id: 1,
                corpus["closed"].public_id: 1,
                corpus["closed2"].public_id: 1,
            },
        )
    assert (
        corpus["closed"].public_id in error.value.message
        and corpus["closed2"].public_id in error.value.message
    )
    assert corpus["open"].public_id not in error.value.ids
    assert works(db) == before


def test_matching_by_content_hash_reports_unmatched_hashes(db, corpus):
    digest = hashlib.sha256(WAV).hexdigest()
    unknown = hashlib.sha256(b"not on hitrack").hexdigest()
    result = ai_models.register_model(
        db,
        corpus["lab"],
        name="Wave-1",
        manifest={f"sha256:{digest}": "2", unknown.upper(): "1", corpus["open2"].public_id: "2"},
    )
    assert [(e.record.public_id, e.via) for e in result.matched] == [
        (corpus["open"].public_id, digest),
        (corpus["open2"].public_id, None),
    ]
    assert result.unmatched_hashes == [unknown]
    assert {c.source_id: c.share for c in result.model.sources} == {
        corpus["open"].id: Fraction(1, 2),
        corpus["open2"].id: Fraction(1, 2),
    }


def test_a_hash_of_a_non_consented_record_is_refused_too(db, corpus):
    with pytest.raises(ConsentRequired, match=corpus["closed2"].public_id):
        ai_models.register_model(
            db, corpus["lab"], name="M", manifest={hashlib.sha256(PNG).hexdigest(): 1}
        )


def test_a_manifest_matching_nothing_is_refused(db, corpus):
    with pytest.raises(InvalidInput, match="no record matched"):
        ai_models.register_model(db, corpus["lab"], name="M", manifest={"ab" * 32: 1})


def test_bad_manifests_are_refused_with_clear_errors(db, corpus):
    lab, rid = corpus["lab"], corpus["open"].public_id
    with pytest.raises(InvalidInput, match="manifest"):
        ai_models.register_model(db, lab, name="M", manifest={})
    with pytest.raises(InvalidShare, match="positive"):
        ai_models.register_model(db, lab, name="M", manifest={rid: 0})
    with pytest.raises(InvalidShare):
        ai_models.register_model(db, lab, name="M", manifest={rid: 1.5})
    with pytest.raises(NotFound):
        ai_models.register_model(db, lab, name="M", manifest={"r0000000000": 1})
    with pytest.raises(InvalidShare, match="outside"):
        ai_models.register_model(db, lab, name="M", manifest={rid: 1}, attribution_weight="2")
    with pytest.raises(InvalidShare, match="nothing"):
        ai_models.register_model(db, lab, name="M", manifest={rid: 1}, retained="1")
    with pytest.raises(InvalidInput, match="twice"):
        ai_models.register_model(
            db, lab, name="M", manifest={rid: 1, hashlib.sha256(WAV).hexdigest(): 1}
        )


def test_a_model_cannot_train_on_another_model(db, corpus):
    first = ai_models.register_model(
        db, corpus["lab"], name="M", manifest={corpus["open"].public_id: 1}
    ).model
    with pytest.raises(InvalidInput, match="records only"):
        ai_models.register_model(db, corpus["lab"], name="N", manifest={first.public_id: 1})


def test_consent_revocation_blocks_new_versions_and_never_rewrites_old_ones(db, corpus):
    manifest = {corpus["open"].public_id: 1, corpus["open2"].public_id: 1}
    v1 = ai_models.register_model(
        db, corpus["lab"], name="Wave", version="1", manifest=manifest
    ).model
    records.set_consent(db, corpus["ana"], corpus["open"].public_id, ai_training=False)
    with pytest.raises(ConsentRequired, match=corpus["open"].public_id):
        ai_models.register_version(db, corpus["lab"], v1.public_id, version="2", manifest=manifest)
    view = ai_models.model_view(db, None, v1.public_id)
    assert {line.record.public_id: line.consent_now for line in view.manifest} == {
        corpus["open"].public_id: False,
        corpus["open2"].public_id: True,
    }
    assert [line.record.public_id for line in view.revoked] == [corpus["open"].public_id]
    assert len(db.scalars(select(Citation).where(Citation.work_id == v1.id)).all()) == 2
    v2 = ai_models.register_version(
        db, corpus["lab"], v1.public_id, version="2", manifest={corpus["open2"].public_id: 1}
    ).model
    assert v2.family_id == v1.id and v2.title == "Wave"
    assert [v.version for v in ai_models.model_view(db, None, v2.public_id).versions] == ["1", "2"]


def test_versions_are_unique_and_only_the_operator_adds_them(db, corpus):
    manifest = {corpus["open"].public_id: 1}
    v1 = ai_models.register_model(
        db, corpus["lab"], name="Wave", version="1", manifest=manifest
    ).model
    with pytest.raises(Conflict, match="already registered"):
        ai_models.register_version(db, corpus["lab"], v1.public_id, version="1", manifest=manifest)
    with pytest.raises(PermissionDenied, match="operator"):
        ai_models.register_version(db, corpus["ana"], v1.public_id, version="2", manifest=manifest)


def test_attribution_is_validated_against_the_manifest(db, corpus):
    model = ai_models.register_model(
        db,
        corpus["lab"],
        name="M",
        manifest={corpus["open"].public_id: 1, corpus["open2"].public_id: 1},
    ).model
    a, b = corpus["open"].public_id, corpus["open2"].public_id
    assert ai_models.validate_attribution(db, model, {a: "3", b: 0}) == {
        a: Fraction(3),
        b: Fraction(0),
    }
    with pytest.raises(InvalidInput, match=corpus["closed"].public_id) as error:
        ai_models.validate_attribution(db, model, {a: 1, corpus["closed"].public_id: 1, "zz": 1})
    assert set(error.value.ids) == {corpus["closed"].public_id, "zz"}
    with pytest.raises(InvalidInput, match="negative"):
        ai_models.validate_attribution(db, model, {a: "-1", b: 2})
    with pytest.raises(InvalidInput, match="sum to 0"):
        ai_models.validate_attribution(db, model, {a: 0, b: "0.0"})
    with pytest.raises(InvalidInput, match="only for models"):
        ai_models.validate_attribution(db, corpus["open"], {a: 1})


# --- The next version's starting point (the form registers it on the first try) ----


def test_the_next_version_draft_leaves_out_revoked_records_and_picks_a_free_version(db, corpus):
    manifest = {corpus["open"].public_id: 1, corpus["open2"].public_id: 1}
    v1 = ai_models.register_model(
        db, corpus["lab"], name="Wave", version="1", manifest=manifest
    ).model
    records.set_consent(db, corpus["ana"], corpus["open"].public_id, ai_training=False)
    draft = ai_models.next_version_draft(db, corpus["lab"], v1.public_id)
    assert draft.version == "2"
    assert list(draft.manifest) == [corpus["open2"].public_id]
    assert [r.public_id for r in draft.left_out] == [corpus["open"].public_id]
    v2 = ai_models.register_version(
        db, corpus["lab"], v1.public_id, version=draft.version, manifest=draft.manifest
    ).model
    assert v2.version == "2"
    assert ai_models.next_version_draft(db, corpus["lab"], v1.public_id).version == "3"


def test_the_next_version_draft_of_a_model_with_named_versions_is_free(db, corpus):
    model = ai_models.register_model(
        db, corpus["lab"], name="Wave", version="beta", manifest={corpus["open"].public_id: 1}
    ).model
    draft = ai_models.next_version_draft(db, corpus["lab"], model.public_id)
    assert draft.version == "2" and draft.left_out == []
    with pytest.raises(NotFound):
        ai_models.next_version_draft(db, corpus["lab"], corpus["open"].public_id)
