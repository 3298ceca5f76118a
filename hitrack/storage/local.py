"""Media storage in a local folder: the embedded default, no setup needed.

Each key maps to a file under the root (``media/3f/9c1e...`` becomes
``<root>/media/3f/9c1e...``). A put writes to a temporary file in the target's
own directory and renames it into place, so a reader sees either the previous
file or the complete new one, never a half-written file, and a crash leaves at
worst a temporary file that no key can name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from hitrack.domain.errors import InvalidUpload, NotFound
from hitrack.storage.base import CHUNK_SIZE, ReadableStream, validate_key

__all__ = ["LocalStorage", "copy_exactly"]

# Temporary files carry a dot, which the key alphabet lacks, so they can never
# collide with, or be opened as, a stored object.
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"


class LocalStorage:
    """A :class:`~hitrack.storage.base.MediaStorage` backed by files under ``root``.

    The root is created on the first put. Content types are not stored: the
    database row for the media file is where they live.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        validate_key(key)
        return self.root.joinpath(*key.split("/"))

    def put(self, key: str, stream: ReadableStream, *, size: int, content_type: str) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Same directory as the target, so the final rename stays on one file
        # system and is atomic.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        temp_path = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                copy_exactly(stream, out, size)
                out.flush()
                # Without fsync a power cut after the rename can leave an empty
                # file under a key the database already points at.
                os.fsync(out.fileno())
            os.replace(temp_path, path)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no stored media under key {key!r}", ids=(key,)) from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:
            # A key that names a directory (a prefix of other keys) is not an
            # object, so there is nothing to delete; anything else is real.
            if path.is_dir():
                return
            raise

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no stored media under key {key!r}", ids=(key,))
        return path.stat().st_size


def copy_exactly(source: ReadableStream, target: BinaryIO, size: int) -> None:
    """Copy exactly ``size`` bytes from ``source`` to ``target`` in bounded chunks.

    Never asks ``source`` for more than ``size + 1`` bytes in total, so an
    over-long stream is caught after one extra byte, not after reading it all.

    Raises
    ------
    InvalidUpload
        If ``source`` ends early or has more than ``size`` bytes.
    """
    remaining = size
    while True:
        chunk = source.read(min(CHUNK_SIZE, remaining + 1))
        if not chunk:
            break
        if len(chunk) > remaining:
            raise InvalidUpload(f"the upload is longer than its declared size of {size} bytes")
        target.write(chunk)
        remaining -= len(chunk)
    if remaining:
        raise InvalidUpload(
            f"the upload ended after {size - remaining} bytes, expected {size} bytes"
        )
