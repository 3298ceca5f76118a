"""A production's cover art: an image its producer uploads, shown on its page and in lists.

The cover is stored as the production's thumbnail (:attr:`Work.thumbnail_key`),
made by the same code as record thumbnails (:func:`~hitrack.services.media.make_thumbnail`),
so every list that shows a record's thumbnail shows a production's cover with
no second column or route. Only the original's small JPEG is kept: a cover is
decoration, not media anyone is credited for. Everything is checked before
anything is stored; the previous cover is deleted only once the new one is committed.
"""

from __future__ import annotations

import io
from typing import IO

from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Work
from hitrack.domain.errors import InvalidInput, PermissionDenied
from hitrack.services.media import make_thumbnail, thumbnail_key
from hitrack.services.productions import get_production
from hitrack.services.records import delete_media_on_rollback
from hitrack.services.unit_of_work import after_commit, unit_of_work
from hitrack.storage import MediaStorage, delete_quietly
from hitrack.storage.upload import new_media_key

__all__ = ["set_cover"]


def set_cover(
    db: Session,
    storage: MediaStorage,
    actor: Creator,
    production_id: object,
    stream: IO[bytes],
    *,
    max_bytes: int,
) -> Work:
    """The producer makes an uploaded image the production's cover; the production.

    Refused, with nothing stored or changed, when ``actor`` is not the
    producer (:class:`PermissionDenied`), or the file is empty, larger than
    ``max_bytes`` or no image Pillow can read (:class:`InvalidInput`).
    """
    production = get_production(db, actor, production_id)
    if production.created_by_id != actor.id:
        raise PermissionDenied(
            f"only the producer of {production.public_id} may change its cover",
            ids=(production.public_id,),
        )
    data = stream.read(max_bytes + 1)
    if not data:
        raise InvalidInput("cover: the file is empty")
    if len(data) > max_bytes:
        raise InvalidInput(f"cover: at most {max_bytes} bytes")
    cover = make_thumbnail(data)
    if cover is None:
        raise InvalidInput("cover: not an image (upload a PNG, JPEG, GIF or WebP picture)")
    key = thumbnail_key(new_media_key())
    with unit_of_work(db):
        delete_media_on_rollback(db, storage, key)  # also if the write itself fails
        storage.put(key, io.BytesIO(cover), size=len(cover), content_type="image/jpeg")
        previous = production.thumbnail_key
        production.thumbnail_key = key
        if previous:
            after_commit(db, lambda: delete_quietly(storage, previous))
    return production
