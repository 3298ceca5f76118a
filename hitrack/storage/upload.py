"""Accepting an uploaded file: check it, fingerprint it, store it under a new key.

:func:`store_upload` is the one way user bytes enter a
:class:`~hitrack.storage.base.MediaStorage`. It reads the upload once, in
chunks, into an anonymous temporary file while hashing and counting, so a
1 GB upload costs a few MiB of memory and a request that is too large or of
the wrong type is refused as soon as that is known, without reading the rest.
The type comes from the content (:mod:`hitrack.storage.sniff`); the key is
generated; the user's file name survives only as sanitised metadata for a
``Content-Disposition`` header.

The caller records the returned :class:`StoredMedia` in the database. If that
fails, it calls :func:`delete_quietly` so no unreferenced object is left.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from typing import BinaryIO, Literal, cast

from hitrack.domain.errors import InvalidUpload
from hitrack.storage.base import CHUNK_SIZE, MediaStorage, ReadableStream
from hitrack.storage.sniff import HEAD_SIZE, sniff

__all__ = [
    "ALLOWED_TYPES_DESCRIPTION",
    "MediaKind",
    "StoredMedia",
    "delete_quietly",
    "new_media_key",
    "sanitize_filename",
    "store_upload",
]

logger = logging.getLogger(__name__)

MediaKind = Literal["audio", "video", "image", "text"]

ALLOWED_TYPES_DESCRIPTION = (
    "audio (MP3, WAV, FLAC, Ogg, M4A), video (MP4, MOV, WebM, Matroska, AVI), "
    "images (PNG, JPEG, GIF, WebP) or UTF-8 plain text"
)

#: Longest original file name kept, in characters; file systems allow 255.
MAX_FILENAME_LENGTH = 255
_FALLBACK_FILENAME = "upload"

# Containers that hold audio or video alike. Their signature proves the
# container, not which of the two is inside, so the client's declared type may
# pick between these two allowed readings, and nothing else.
_AUDIO_OR_VIDEO = {
    "video/mp4": {"audio": ("audio/mp4", "audio")},
    "audio/mp4": {"video": ("video/mp4", "video")},
    "audio/ogg": {"video": ("video/ogg", "video")},
    "video/webm": {"audio": ("audio/webm", "audio")},
    "video/x-matroska": {"audio": ("audio/x-matroska", "audio")},
}


@dataclass(frozen=True)
class StoredMedia:
    """What :func:`store_upload` stored, for the database row that refers to it."""

    key: str
    #: Hex SHA-256 of the stored bytes.
    sha256: str
    size: int
    #: Detected from the content; the type to serve the object as.
    content_type: str
    media_kind: MediaKind
    #: The uploader's file name, sanitised; for ``Content-Disposition`` only.
    original_filename: str


def store_upload(
    storage: MediaStorage,
    stream: ReadableStream,
    *,
    filename: str,
    max_bytes: int,
    declared_type: str | None = None,
) -> StoredMedia:
    """Check an upload and store it under a newly generated key.

    Parameters
    ----------
    storage
        Where to store it.
    stream
        The upload's bytes; read once, in chunks, never more than
        ``max_bytes + 1`` bytes in total.
    filename
        The name the client gave. Kept, sanitised, as metadata only; it plays
        no part in the key or the type.
    max_bytes
        The largest accepted upload.
    declared_type
        The content type the client claimed. Never trusted: it can only choose
        between audio and video for containers that hold either (MP4, Ogg,
        WebM, Matroska).

    Returns
    -------
    StoredMedia

    Raises
    ------
    InvalidUpload
        If the upload is empty, larger than ``max_bytes``, or its content is
        not an allowed type. Nothing is stored.

    Examples
    --------
    >>> import io, tempfile
    >>> from pathlib import Path
    >>> from hitrack.storage.local import LocalStorage
    >>> storage = LocalStorage(Path(tempfile.mkdtemp()))
    >>> media = store_upload(storage, io.BytesIO(b"la la la\\n"),
    ...                      filename="../lyrics.txt", max_bytes=1024)
    >>> media.media_kind, media.original_filename, media.size
    ('text', 'lyrics.txt', 9)
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    original_filename = sanitize_filename(filename)
    with tempfile.TemporaryFile() as spool:
        sha256, size, (content_type, media_kind) = _spool(
            stream, cast(BinaryIO, spool), max_bytes=max_bytes
        )
        content_type, media_kind = _choose_audio_or_video(content_type, media_kind, declared_type)
        key = new_media_key()
        spool.seek(0)
        try:
            storage.put(key, spool, size=size, content_type=content_type)
        except BaseException:
            # A put that failed part-way may still have left an object behind
            # (a store that completed the write but lost the response).
            delete_quietly(storage, key)
            raise
    return StoredMedia(
        key=key,
        sha256=sha256,
        size=size,
        content_type=content_type,
        media_kind=cast(MediaKind, media_kind),
        original_filename=original_filename,
    )


def delete_quietly(storage: MediaStorage, key: str) -> None:
    """Delete ``key``, logging instead of raising if that fails.

    For cleanup after a later step failed (a database insert, say): the
    original error is the one worth reporting, and an orphaned object is
    cheaper than hiding it.
    """
    try:
        storage.delete(key)
    except Exception:
        logger.warning("could not delete stored media %r during cleanup", key, exc_info=True)


def new_media_key() -> str:
    """A fresh storage key: ``media/<first 2 hex>/<uuid4 hex>``.

    The two-character level spreads objects over 256 directories, so no
    directory of the local backend grows to millions of entries.
    """
    name = uuid.uuid4().hex
    return f"media/{name[:2]}/{name}"


def sanitize_filename(filename: str) -> str:
    """Reduce a client-supplied file name to a safe display name.

    Keeps only the last path component (either slash counts as a
    separator); drops control, invisible formatting, private-use and
    unassigned characters (a right-to-left override disguises an extension:
    ``song\\u202egpj.exe``) and double quotes; turns every kind of space or
    line break into one plain space; strips leading and trailing dots and
    spaces; and caps the length while keeping the extension. Returns
    ``"upload"`` if nothing is left.

    Examples
    --------
    >>> sanitize_filename("../../etc/passwd")
    'passwd'
    >>> sanitize_filename("C:\\\\Users\\\\me\\\\My Song.mp3")
    'My Song.mp3'
    >>> sanitize_filename("..")
    'upload'
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept: list[str] = []
    for char in name:
        category = unicodedata.category(char)
        if category.startswith("Z"):
            kept.append(" ")
        elif char != '"' and not category.startswith("C"):
            kept.append(char)
    # Runs of spaces (of any width) can push a real extension out of sight.
    name = re.sub(" +", " ", "".join(kept)).strip(" .")
    if len(name) > MAX_FILENAME_LENGTH:
        stem, extension = os.path.splitext(name)
        if len(extension) > 16:
            stem, extension = name, ""
        name = stem[: MAX_FILENAME_LENGTH - len(extension)].rstrip(" .") + extension
    return name or _FALLBACK_FILENAME


def _spool(
    stream: ReadableStream, spool: BinaryIO, *, max_bytes: int
) -> tuple[str, int, tuple[str, str]]:
    """Copy ``stream`` into ``spool``; return its digest, size and detected type."""
    digest = hashlib.sha256()
    size = 0
    head = bytearray()
    detected: tuple[str, str] | None = None
    # Whether the text reading is still possible. A text upload must be UTF-8
    # throughout, not only in the sniffed head, or its charset would be a lie.
    utf8 = codecs.getincrementaldecoder("utf-8")()
    still_utf8 = True
    while True:
        chunk = stream.read(min(CHUNK_SIZE, max_bytes + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise InvalidUpload(f"the file is larger than the limit of {_describe_size(max_bytes)}")
        if detected is None and len(head) < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - len(head)]
            if len(head) == HEAD_SIZE:
                # Decide as soon as the head is in, so a disguised file is
                # refused before the rest of it is read.
                detected = _detect(bytes(head))
        if still_utf8 and (detected is None or detected[1] == "text"):
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                still_utf8 = False
        digest.update(chunk)
        spool.write(chunk)
    if size == 0:
        raise InvalidUpload("the file is empty")
    if detected is None:
        detected = _detect(bytes(head))
    if detected[1] == "text":
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            still_utf8 = False
        if not still_utf8:
            raise InvalidUpload(
                "the file starts like UTF-8 text but is not valid UTF-8 throughout; "
                f"allowed are {ALLOWED_TYPES_DESCRIPTION}"
            )
    return digest.hexdigest(), size, detected


def _detect(head: bytes) -> tuple[str, str]:
    detected = sniff(head)
    if detected is None:
        raise InvalidUpload(
            f"the file's content is not an allowed type; allowed are {ALLOWED_TYPES_DESCRIPTION} "
            "(the type is read from the content, not from the file name)"
        )
    return detected


def _choose_audio_or_video(
    content_type: str, media_kind: str, declared_type: str | None
) -> tuple[str, str]:
    if not declared_type:
        return content_type, media_kind
    declared_kind = declared_type.split(";", 1)[0].strip().lower().split("/", 1)[0]
    return _AUDIO_OR_VIDEO.get(content_type, {}).get(declared_kind, (content_type, media_kind))


def _describe_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"
