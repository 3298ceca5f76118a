"""Attribution through the services, on SQLite and PostgreSQL: index, outputs, revenue, reports."""

from __future__ import annotations

import io
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from PIL import Image
from sqlalchemy import func, select

from benchmarks import attribution_corpus as corpus
from hitrack.attribution import VECTOR_TOTAL
from hitrack.db.models import (
    Allocation,
    AttributionMatch,
    AttributionOutput,
    AttributionSignature,
    RevenueEvent,
)
from hitrack.domain.errors import InvalidEvent, InvalidInput, NotFound, PermissionDenied
from hitrack.services import ai_models, revenue
from hitrack.services import attribution as service
from hitrack.services.attribution import OutputSubmission
from hitrack.services.demo import tone_wav
from tests.factories import make_creator, make_record


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    return int(db.scalar(select(func.count()).select_from(model)))


@pytest.fixture
def catalogue(db, storage, signals, texts, images, melodies):  # type: ignore[no-untyped-def]
    ana, bo, lab = make_creator(db, "Ana"), make_creator(db, "Bo"), make_creator(db, "Lab")
    text_records = [
        make_record(db, storage, ana, f"Story {i}", data=t.encode(), ai_training=True)
        for i, t in enumerate(texts[:5])
    ]
    image_records = [
        make_record(db, storage, bo, f"Picture {i}", data=data, ai_training=True)
        for i, data in enumerate(images[:3])
    ]
    audio_records = [
        make_record(db, storage, bo, f"Tune {i}", data=data, ai_training=True)
        for i, data in enumerate(melodies[:2])
    ]
    everything = text_records + image_records + audio_records
    model = ai_models.register_model(
        db,
        lab,
        name="Muse",
        retained="1/2",
        attribution_weight="1/2",
        manifest={r.public_id: 1 for r in everything},
        storage=storage,
    ).model
    return {
        "ana": ana,
        "bo": bo,
        "lab": lab,
        "texts": text_records,
        "images": image_records,
        "audio": audio_records,
        "model": model,
    }


def submit(db, storage, signals, actor, model, **fields):  # type: ignore[no-untyped-def]
    return service.submit_output(
        db, storage, actor, model.public_id, OutputSubmission(**fields), signals=signals
    )


def test_registering_a_manifest_indexes_each_record_once_for_every_model(
    db, storage, signals, catalogue
):
    records = catalogue["texts"] + catalogue["images"] + catalogue["audio"]
    parts = sum(len(signals.parts(r.media_kind)) for r in records)
    assert count(db, AttributionSignature) == parts
    again = ai_models.register_model(
        db,
        catalogue["ana"],
        name="Echo",
        manifest={r.public_id: 1 for r in catalogue["texts"]},
        storage=storage,
    ).model
    assert count(db, AttributionSignature) == parts  # reused, not recomputed
    seen: list[tuple[int, int]] = []
    result = service.index_manifest(
        db, storage, again.id, signals=signals, progress=lambda d, t: seen.append((d, t))
    )
    assert (result.records, result.computed, result.failed) == (5, 0, 0)
    assert seen[-1] == (5, 5) and len(seen) == 5


def test_a_record_signals_cannot_read_is_marked_failed_once(db, storage, signals):
    ana = make_creator(db, "Ana")
    blip = make_record(db, storage, ana, "Blip", data=tone_wav(seconds=0.05), ai_training=True)
    model = ai_models.register_model(
        db, ana, name="Tiny", manifest={blip.public_id: 1}, storage=storage
    ).model
    row = db.scalar(select(AttributionSignature).where(AttributionSignature.work_id == blip.id))
    assert row is not None and row.status == "failed" and "too short" in row.error
    result = service.index_manifest(db, storage, model.id, signals=signals)
    assert (result.computed, result.failed) == (0, 0)


def test_a_heavily_edited_text_is_attributed_to_the_story_it_copies(
    db, storage, signals, catalogue, texts
):
    edit = corpus.heavy_text_edit(random.Random(8), texts[1])
    output = submit(db, storage, signals, catalogue["lab"], catalogue["model"], text=edit)
    assert output.kind == "text" and output.signal == "text"
    assert output.matches[0].work_id == catalogue["texts"][1].id
    assert sum(m.share for m in output.matches) == VECTOR_TOTAL
    assert output.excerpt == edit[:2000]


def test_an_image_collage_and_an_audio_excerpt_are_attributed_from_files(
    db, storage, signals, catalogue, images, melodies
):
    rng = random.Random(9)
    a, b = (Image.open(io.BytesIO(images[i])).convert("RGB") for i in (0, 2))
    collage = submit(
        db,
        storage,
        signals,
        catalogue["lab"],
        catalogue["model"],
        content=corpus.mix_images(rng, a, b),
    )
    assert collage.content_type == "image/jpeg" and collage.signal == "image"
    assert {m.work_id for m in collage.matches} == {
        catalogue["images"][0].id,
        catalogue["images"][2].id,
    }
    tune = submit(db, storage, signals, catalogue["lab"], catalogue["model"], content=melodies[1])
    assert tune.signal == "audio" and tune.matches[0].work_id == catalogue["audio"][1].id


def test_operator_scores_become_the_vector_with_negatives_clipped(db, storage, signals, catalogue):
    first, second, third = (r.public_id for r in catalogue["texts"][:3])
    output = submit(
        db,
        storage,
        signals,
        catalogue["lab"],
        catalogue["model"],
        scores={first: 3, second: Decimal("1"), third: -2},
    )
    assert output.signal == "operator" and output.threshold is None
    assert service.output_vector(db, catalogue["model"], output.public_id) == {
        first: Fraction(750_000),
        second: Fraction(250_000),
    }


def _event(db, lab, model, external_id, **extra):  # type: ignore[no-untyped-def]
    # Recorded by an admin, so funded on arrival and settled (an operator's own
    # report would wait, unpaid, until its money arrives).
    admin = make_creator(db, "Admin", admin=True)
    return revenue.record_revenue(
        db,
        admin,
        {
            "external_id": external_id,
            "work": model.public_id,
            "amount": 1_000_000,
            "currency": "USD",
            **extra,
        },
        default_fee_rate=Fraction(0),
    ).event


def _allocations(db, event) -> dict[int, int]:  # type: ignore[no-untyped-def]
    rows = db.execute(
        select(Allocation.creator_id, Allocation.amount).where(Allocation.event_id == event.id)
    )
    return {creator: amount for creator, amount in rows}


def test_revenue_naming_an_output_blends_with_its_vector(db, storage, signals, catalogue, texts):
    lab, model = catalogue["lab"], catalogue["model"]
    output = submit(db, storage, signals, lab, model, text=texts[0])
    vector = service.output_vector(db, model, output.public_id)
    assert vector is not None
    named = _event(db, lab, model, "e-output", output=output.public_id)
    inline = _event(db, lab, model, "e-inline", attribution={k: str(v) for k, v in vector.items()})
    plain = _event(db, lab, model, "e-plain")
    assert named.output == output.public_id and named.attribution == inline.attribution
    assert _allocations(db, named) == _allocations(db, inline)
    ana = catalogue["ana"].id  # owns the stories; the vector points at hers
    assert _allocations(db, named)[ana] > _allocations(db, plain)[ana]
    replay = revenue.record_revenue(
        db,
        lab,
        {
            "external_id": "e-output",
            "work": model.public_id,
            "amount": 1_000_000,
            "currency": "USD",
            "output": output.public_id,
        },
        default_fee_rate=Fraction(0),
    )
    assert not replay.created and replay.event.id == named.id


def test_an_output_with_no_confident_match_attributes_nothing(db, storage, signals, catalogue):
    lab, model = catalogue["lab"], catalogue["model"]
    unrelated = corpus.make_text(random.Random(1234))
    output = submit(db, storage, signals, lab, model, text=unrelated)
    assert output.matches == []
    assert service.output_vector(db, model, output.public_id) is None
    named = _event(db, lab, model, "e-nothing", output=output.public_id)
    plain = _event(db, lab, model, "e-manifest")
    assert named.attribution is None
    assert _allocations(db, named) == _allocations(db, plain)


def test_the_report_shows_each_match_and_what_revenue_paid_through_it(
    db, storage, signals, catalogue, texts
):
    lab, model = catalogue["lab"], catalogue["model"]
    output = submit(db, storage, signals, lab, model, text=texts[2])
    event = _event(db, lab, model, "e-report", output=output.public_id)
    report = service.output_report(db, catalogue["ana"], output.public_id)
    line = report.lines[0]
    assert line.work.id == catalogue["texts"][2].id and line.signal == "text"
    assert report.events == {"USD": 1} and report.distributable == {"USD": event.distributable}
    # Ana owns every story, so what reached each matched story is part of her exact entitlement.
    reached = sum((line.paid["USD"] for line in report.lines), Fraction(0))
    hers = db.scalar(
        select(Allocation.exact).where(
            Allocation.event_id == event.id, Allocation.creator_id == catalogue["ana"].id
        )
    )
    assert reached <= Fraction(hers)
    assert line.by_attribution["USD"] > 0
    operator_view = service.output_report(db, lab, output.public_id)
    assert operator_view.viewer_is_operator
    with pytest.raises(NotFound):
        service.output_report(db, catalogue["bo"], output.public_id)  # owns no matched work
    counts = service.matches_for_creator(db, catalogue["ana"])
    assert [(c.work.id, c.model.id, c.outputs) for c in counts if c.work.id == line.work.id] == [
        (line.work.id, model.id, 1)
    ]


# --- bad input: a clear error, nothing stored -----------------------------------------


def _stored(db) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return count(db, AttributionOutput), count(db, AttributionMatch), count(db, RevenueEvent)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"text": ""}, InvalidInput, "empty"),
        ({"text": "  \n "}, InvalidInput, "empty"),
        ({"text": "x" * (service.MAX_TEXT_CHARS + 1)}, InvalidInput, "at most"),
        ({"text": "a", "scores": {"x": 1}}, InvalidInput, "exactly one"),
        ({}, InvalidInput, "exactly one"),
        ({"content": b""}, InvalidInput, "empty"),
        ({"content": b"<!doctype html><script>"}, InvalidInput, "not a type"),
        ({"content": b"\x1a\x45\xdf\xa3webm" + bytes(64)}, InvalidInput, "no attribution signal"),
        ({"scores": {"r-elsewhere": 1}}, InvalidInput, "outside the model's manifest"),
        ({"scores": "not an object"}, InvalidInput, "non-empty object"),
    ],
)
def test_a_bad_output_is_refused_and_nothing_is_stored(
    db, storage, signals, catalogue, fields, error, message
):
    before = _stored(db)
    with pytest.raises(error, match=message):
        submit(db, storage, signals, catalogue["lab"], catalogue["model"], **fields)
    assert _stored(db) == before


def test_operator_scores_that_are_zero_nan_or_negative_are_refused(db, storage, signals, catalogue):
    first, second = (r.public_id for r in catalogue["texts"][:2])
    before = _stored(db)
    for scores in (
        {first: 0, second: "0.0"},
        {first: float("nan")},
        {first: Decimal("NaN")},
        {first: -1, second: "-0.5"},
    ):
        with pytest.raises(InvalidInput):
            submit(db, storage, signals, catalogue["lab"], catalogue["model"], scores=scores)
    assert _stored(db) == before


def test_an_output_for_a_model_you_do_not_operate_is_refused(
    db, storage, signals, catalogue, texts
):
    before = _stored(db)
    with pytest.raises(PermissionDenied, match="only the operator"):
        submit(db, storage, signals, catalogue["ana"], catalogue["model"], text=texts[0])
    assert _stored(db) == before


def test_a_file_type_the_manifest_has_none_of_is_refused(db, storage, signals, catalogue, images):
    lab = catalogue["lab"]
    words = ai_models.register_model(
        db,
        lab,
        name="Words",
        manifest={r.public_id: 1 for r in catalogue["texts"]},
        storage=storage,
    ).model
    before = _stored(db)
    with pytest.raises(InvalidInput, match="has no image records"):
        submit(db, storage, signals, lab, words, content=images[0])
    assert _stored(db) == before


def test_a_revenue_event_naming_another_models_output_is_refused(
    db, storage, signals, catalogue, texts
):
    lab = catalogue["lab"]
    other = ai_models.register_model(
        db,
        lab,
        name="Other",
        manifest={r.public_id: 1 for r in catalogue["texts"]},
        storage=storage,
    ).model
    output = submit(db, storage, signals, lab, catalogue["model"], text=texts[0])
    before = _stored(db)
    with pytest.raises(InvalidEvent, match="another model"):
        _event(db, lab, other, "e-wrong", output=output.public_id)
    with pytest.raises(InvalidEvent, match="not found"):
        _event(db, lab, other, "e-missing", output="o-nonexistent")
    with pytest.raises(InvalidInput, match="not with"):
        _event(db, lab, other, "e-both", output=output.public_id, attribution={"x": 1})
    assert _stored(db) == before


def test_without_the_embedding_extra_text_is_matched_lexically_and_says_so(
    db, storage, signals, catalogue, texts
):
    from hitrack.attribution import Signals
    from hitrack.attribution.index import embedding_missing

    lexical_only = Signals(
        embedder=None,
        hasher=signals.hasher,
        fingerprinter=signals.fingerprinter,
        embedder_note=embedding_missing() or "the embedding extra is not installed",
    )
    edit = corpus.heavy_text_edit(random.Random(21), texts[3])
    output = service.submit_output(
        db,
        storage,
        catalogue["lab"],
        catalogue["model"].public_id,
        OutputSubmission(text=edit),
        signals=lexical_only,
    )
    assert output.signal == "text-lexical" and "lexical similarity only" in output.method
    assert output.matches[0].work_id == catalogue["texts"][3].id
