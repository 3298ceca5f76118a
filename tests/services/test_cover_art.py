"""A production's cover art: set by its producer from an image, refused otherwise."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from hitrack.domain.errors import InvalidInput, NotFound, PermissionDenied
from hitrack.services import cover_art, productions
from tests.factories import PNG, WAV, make_creator, make_record

MAX = 1_000_000


def test_the_producer_sets_and_replaces_the_cover(db, storage):
    ada = make_creator(db, "Ada")
    production = productions.create_production(db, ada, title="Harbour film")
    cover_art.set_cover(db, storage, ada, production.public_id, io.BytesIO(PNG), max_bytes=MAX)
    first = production.thumbnail_key
    assert first is not None
    with storage.open(first) as stream:
        assert Image.open(stream).format == "JPEG"
    cover_art.set_cover(db, storage, ada, production.public_id, io.BytesIO(PNG), max_bytes=MAX)
    db.refresh(production)
    assert production.thumbnail_key not in (None, first)
    assert storage.exists(production.thumbnail_key)
    assert not storage.exists(first)  # the replaced cover is deleted once the new one is in


@pytest.mark.parametrize(
    ("data", "message"),
    [(WAV, "not an image"), (b"", "empty"), (b"\x89PNG\r\n\x1a\n" + b"0" * 64, "not an image")],
)
def test_a_file_that_is_no_image_is_refused_and_nothing_changes(db, storage, data, message):
    ada = make_creator(db, "Ada")
    production = productions.create_production(db, ada, title="Harbour film")
    cover_art.set_cover(db, storage, ada, production.public_id, io.BytesIO(PNG), max_bytes=MAX)
    before = production.thumbnail_key
    with pytest.raises(InvalidInput, match=message):
        cover_art.set_cover(db, storage, ada, production.public_id, io.BytesIO(data), max_bytes=MAX)
    db.refresh(production)
    assert production.thumbnail_key == before
    assert storage.exists(before)


def test_only_the_producer_sets_the_cover_and_records_have_none(db, storage):
    ada = make_creator(db, "Ada")
    bob = make_creator(db, "Bob")
    line = make_record(db, storage, bob, "Cello line", data=WAV)
    production = productions.create_production(
        db,
        ada,
        title="Harbour film",
        contributions=[productions.ContributionInput(line.public_id, "1/2", "cellist")],
    )
    # Bob, a contributor, sees the draft but may not change its cover.
    with pytest.raises(PermissionDenied, match="only the producer"):
        cover_art.set_cover(db, storage, bob, production.public_id, io.BytesIO(PNG), max_bytes=MAX)
    db.refresh(production)
    assert production.thumbnail_key is None
    record = make_record(db, storage, ada, "A song", data=WAV)
    with pytest.raises(NotFound, match="not a production"):
        cover_art.set_cover(db, storage, ada, record.public_id, io.BytesIO(PNG), max_bytes=MAX)


def test_a_cover_larger_than_the_limit_is_refused(db, storage):
    ada = make_creator(db, "Ada")
    production = productions.create_production(db, ada, title="Harbour film")
    with pytest.raises(InvalidInput, match="at most 10 bytes"):
        cover_art.set_cover(db, storage, ada, production.public_id, io.BytesIO(PNG), max_bytes=10)
    db.refresh(production)
    assert production.thumbnail_key is None
