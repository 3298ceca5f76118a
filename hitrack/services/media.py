"""What lists and pages show of a record's media: image thumbnails and text excerpts.

A thumbnail is made once, at upload, from an image record (Pillow; at most
:data:`THUMBNAIL_SIZE` pixels a side, JPEG) and stored beside the media
through :class:`~hitrack.storage.base.MediaStorage`, so a list of works
serves small files instead of the originals. A file Pillow cannot read gets
no thumbnail (the list shows its kind instead): the upload itself never fails
for it. A production's cover art is the same kind of thumbnail, made from the
image its producer uploads (:mod:`hitrack.services.cover_art`). Audio and video play in the lists with the browser's own players;
text records are shown in their page (:func:`text_excerpt`, bounded).
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from hitrack.storage.base import MediaStorage
from hitrack.storage.upload import StoredMedia, delete_quietly

__all__ = [
    "THUMBNAIL_SIZE",
    "TEXT_EXCERPT_CHARS",
    "thumbnail_key",
    "make_thumbnail",
    "store_thumbnail",
    "text_excerpt",
]

#: The longest side of a thumbnail, in pixels.
THUMBNAIL_SIZE = 320
#: The characters of a text record shown in its page.
TEXT_EXCERPT_CHARS = 20_000
# Decoding a decompression bomb is refused outright (Pillow's own guard, made an error).
_MAX_PIXELS = 40_000_000


def thumbnail_key(media_key: str) -> str:
    """Where a media object's thumbnail is stored."""
    return f"{media_key}_thumb"


def make_thumbnail(data: bytes) -> bytes | None:
    """A JPEG of at most :data:`THUMBNAIL_SIZE` a side, or None if ``data`` is no readable image.

    Examples
    --------
    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("RGB", (800, 400), "red").save(buffer, "PNG")
    >>> Image.open(io.BytesIO(make_thumbnail(buffer.getvalue()))).size
    (320, 160)
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > _MAX_PIXELS:
                    return None
                image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
                picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    except Image.DecompressionBombWarning:
        return None
    picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=82)
    return out.getvalue()


def store_thumbnail(storage: MediaStorage, media: StoredMedia, *, max_bytes: int) -> str | None:
    """Make and store the thumbnail of an uploaded image; its key, or None for other media.

    ``max_bytes`` bounds what is read into memory to decode. The caller deletes
    the thumbnail (:func:`~hitrack.storage.upload.delete_quietly`) with the
    media if the upload fails afterwards.
    """
    if media.media_kind != "image" or media.size > max_bytes:
        return None
    with storage.open(media.key) as stream:
        data = stream.read(max_bytes + 1)
    thumbnail = make_thumbnail(data)
    if thumbnail is None:
        return None
    key = thumbnail_key(media.key)
    try:
        storage.put(key, io.BytesIO(thumbnail), size=len(thumbnail), content_type="image/jpeg")
    except BaseException:
        delete_quietly(storage, key)
        raise
    return key


def text_excerpt(storage: MediaStorage, media_key: str) -> tuple[str, bool]:
    """The start of a text record as text, and whether it was cut (read only, bounded)."""
    with storage.open(media_key) as stream:
        raw = stream.read(TEXT_EXCERPT_CHARS * 4 + 1)
    text = raw.decode("utf-8", errors="replace")
    cut = len(raw) > TEXT_EXCERPT_CHARS * 4 or len(text) > TEXT_EXCERPT_CHARS
    return text[:TEXT_EXCERPT_CHARS], cut
