"""Records, remixes and the graph rules as the platform enforces them (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from hitrack.db.models import Citation, Work
from hitrack.domain.errors import (
    ConsentRequired,
    CycleError,
    InvalidCitation,
    InvalidInput,
    InvalidShare,
    InvalidUpload,
    NotFound,
    PermissionDenied,
)
from hitrack.services import graph as graph_service
from hitrack.services import records
from tests.factories import PNG, make_creator, make_record, make_remix


def counts(db):
    return (
        db.scalar(select(func.count()).select_from(Work)),
        db.scalar(select(func.count()).select_from(Citation)),
    )


def test_upload_stores_media_with_hash_and_default_consent(db, storage):
    ana = make_creator(db, "Ana")
    work = make_record(db, storage, ana, "Shoreline")
    assert work.kind == "record" and work.public_id.startswith("r")
    assert work.consent_remix is True and work.consent_ai_training is False
    assert work.media_kind == "image" and work.media_type == "image/png"
    assert len(work.media_sha256) == 64 and work.media_size == len(PNG)
    assert storage.exists(work.media_key) and "upload" not in work.media_key
    assert [o.creator.handle for o in work.owners] == [ana.handle]


def test_remix_cites_its_sources_with_exact_shares(db, storage):
    ana, bo = make_creator(db, "Ana"), make_creator(db, "Bo")
    shoreline = make_record(db, storage, ana, "Shoreline")
    sketch = make_record(db, storage, ana, "Sketch")
    tide = make_remix(db, storage, bo, (shoreline, "0.4"), (sketch, "1/3"), title="Tide")
    assert {c.source.public_id: c.share for c in tide.sources} == {
        shoreline.public_id: Fraction(2, 5),
        sketch.public_id: Fraction(1, 3),
    }
    assert tide.retained_share == Fraction(4, 15)


def test_citation_that_closes_a_cycle_is_rejected_and_changes_nothing(db, storage):
    ana, bo = make_creator(db, "Ana"), make_creator(db, "Bo")
    a = make_record(db, storage, ana, "A")
    b = make_remix(db, storage, bo, (a, "0.5"), title="B")
    before = counts(db)
    with pytest.raises(CycleError) as error:
        graph_service.cite(db, ana, a.public_id, b.public_id, "0.1")
    assert a.public_id in str(error.value) and b.public_id in str(error.value)
    assert counts(db) == before


def test_self_citation_is_rejected(db, storage):
    ana = make_creator(db)
    a = make_record(db, storage, ana)
    before = counts(db)
    with pytest.raises(InvalidCitation, match=a.public_id):
        graph_service.cite(db, ana, a.public_id, a.public_id, "0.1")
    assert counts(db) == before


def test_citing_a_work_without_remix_consent_is_rejected(db, storage):
    ana, bo = make_creator(db), make_creator(db)
    closed = make_record(db, storage, ana, "Closed", remix=False)
    mine = make_record(db, storage, bo, "Mine")
    before = counts(db)
    with pytest.raises(ConsentRequired, match=closed.public_id):
        graph_service.cite(db, bo, mine.public_id, closed.public_id, "0.1")
    with pytest.raises(ConsentRequired, match=closed.public_id):
        make_remix(db, storage, bo, (closed, "0.1"))
    assert counts(db) == before


@pytest.mark.parametrize("share", ["0", "-0.1", "1.5", "3/2", "abc", "0.1.2", 0.5, True, None])
def test_a_share_outside_zero_to_one_or_malformed_is_rejected(db, storage, share):
    ana = make_creator(db)
    a, b = make_record(db, storage, ana, "A"), make_record(db, storage, ana, "B")
    before = counts(db)
    with pytest.raises(InvalidInput):
        graph_service.cite(db, ana, b.public_id, a.public_id, share)
    assert counts(db) == before


def test_shares_summing_above_one_are_rejected(db, storage):
    ana = make_creator(db)
    a, b, c = (make_record(db, storage, ana, t) for t in "ABC")
    graph_service.cite(db, ana, c.public_id, a.public_id, "0.7")
    before = counts(db)
    with pytest.raises(InvalidCitation, match=c.public_id):
        graph_service.cite(db, ana, c.public_id, b.public_id, "0.31")
    assert counts(db) == before
    graph_service.cite(db, ana, c.public_id, b.public_id, "0.3")  # exactly 1 is fine


def test_upload_with_bad_sources_writes_no_media(db, storage, tmp_path):
    ana = make_creator(db)
    a = make_record(db, storage, ana, "A")
    files_before = sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file())
    for sources in ({a.public_id: "2"}, {"r-missing": "0.1"}, {a.public_id: "0.6", "x": "0.6"}):
        with pytest.raises((InvalidShare, InvalidCitation, NotFound)):
            make_record(db, storage, ana, "Bad", sources=sources)
    assert sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file()) == files_before


def test_spoofed_upload_is_rejected_and_nothing_is_stored(db, storage, tmp_path):
    ana = make_creator(db)
    before = counts(db)
    with pytest.raises(InvalidUpload):
        records.upload_record(
            db,
            storage,
            ana,
            stream=io.BytesIO(b"MZ\x90\x00binary"),
            filename="song.mp3",
            title="Song",
            max_bytes=10**6,
        )
    with pytest.raises(InvalidUpload):
        records.upload_record(
            db,
            storage,
            ana,
            stream=io.BytesIO(b""),
            filename="empty.txt",
            title="Empty",
            max_bytes=10**6,
        )
    with pytest.raises(InvalidUpload):
        records.upload_record(
            db,
            storage,
            ana,
            stream=io.BytesIO(PNG),
            filename="big.png",
            title="Too big",
            max_bytes=10,
        )
    assert counts(db) == before
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]


def test_only_owners_change_sources_and_consent(db, storage):
    ana, bo = make_creator(db), make_creator(db)
    a, b = make_record(db, storage, ana, "A"), make_record(db, storage, bo, "B")
    with pytest.raises(PermissionDenied):
        graph_service.cite(db, bo, a.public_id, b.public_id, "0.1")
    with pytest.raises(PermissionDenied):
        records.set_consent(db, bo, a.public_id, ai_training=True)
    assert a.consent_ai_training is False and not a.sources


def test_consent_can_be_changed_by_its_owner(db, storage):
    ana = make_creator(db)
    a = make_record(db, storage, ana)
    records.set_consent(db, ana, a.public_id, remix=False, ai_training=True)
    assert (a.consent_remix, a.consent_ai_training) == (False, True)
    with pytest.raises(InvalidInput):
        records.set_consent(db, ana, a.public_id, remix="maybe")


def test_private_works_are_invisible_to_others(db, storage):
    ana, bo = make_creator(db), make_creator(db)
    secret = make_record(db, storage, ana, "Secret", visibility="private")
    assert graph_service.visible_work(db, ana, secret.public_id) is secret
    with pytest.raises(NotFound):
        graph_service.visible_work(db, bo, secret.public_id)
    with pytest.raises(NotFound):
        make_remix(db, storage, bo, (secret, "0.1"))


def test_graph_is_loaded_from_the_ancestry_only(db, storage):
    ana = make_creator(db)
    a = make_record(db, storage, ana, "A")
    b = make_remix(db, storage, ana, (a, "0.5"), title="B")
    unrelated = make_record(db, storage, ana, "Unrelated")
    ids = graph_service.ancestry_ids(db, [b.id])
    assert ids == {a.id, b.id}
    G = graph_service.load_graph(db, ids)
    assert set(G.nodes) == {a.public_id, b.public_id} and unrelated.public_id not in G
    assert G[b.public_id][a.public_id]["share"] == Fraction(1, 2)
    assert graph_service.descendant_ids(db, [a.id]) == {a.id, b.id}
