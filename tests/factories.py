"""Small factories that read like the product: make_creator, make_record, make_remix."""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Work
from hitrack.services import accounts, records
from hitrack.services.demo import solid_png, tone_wav
from hitrack.storage import MediaStorage

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
PNG = solid_png((200, 30, 30), size=8)
WAV = tone_wav(seconds=0.05)


# Hashing with Argon2 is deliberately slow; the factory hashes the shared test
# password once and stores that hash (tests/services/test_accounts.py covers
# registration itself).
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


def make_creator(db: Session, name: str | None = None, *, admin: bool = False) -> Creator:
    """A creator who can log in with ``PASSWORD``."""
    n = next(_counter)
    name = name or f"Creator {n}"
    creator = Creator(
        email=f"{name.lower().replace(' ', '.')}.{n}@example.test",
        display_name=name,
        handle=accounts.unique_handle(db, name),
        password_hash=PASSWORD_HASH,
        role="admin" if admin else "creator",
    )
    db.add(creator)
    db.commit()
    return creator


def make_record(
    db: Session,
    storage: MediaStorage,
    creator: Creator,
    title: str = "A record",
    *,
    sources: Mapping[str, object] | None = None,
    ai_training: bool = False,
    remix: bool = True,
    data: bytes = PNG,
    visibility: str = "public",
) -> Work:
    return records.upload_record(
        db,
        storage,
        creator,
        stream=io.BytesIO(data),
        filename="upload.png",
        title=title,
        consent_remix=remix,
        consent_ai_training=ai_training,
        sources=sources,
        max_bytes=10**7,
        visibility=visibility,
    )


def make_remix(
    db: Session,
    storage: MediaStorage,
    creator: Creator,
    *sources: tuple[Work, str],
    title: str = "A remix",
) -> Work:
    return make_record(db, storage, creator, title, sources={w.public_id: s for w, s in sources})
