"""The image signal: perceptual hashes (``imagehash`` on Pillow).

Each crop of an image is hashed twice, a DCT hash (pHash) and a difference
hash (dHash), 64 bits each; both survive re-encoding, resizing, mild noise and
colour shifts. A record's signature hashes the whole image and its centre
(:data:`CENTRE` of each side), so a cropped copy still lines up. An output is
hashed whole, in its centre, and in its halves and quarters, so a collage that
puts two works side by side matches each of them. The score of a record is the
best, over pairs of crops, of ``1 - d / 64`` where ``d`` is the mean Hamming
distance of the two hashes: 1 for the same picture, about 0.5 for unrelated
ones (0.65 to 0.75 between unrelated pictures of one style).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from hitrack.domain.errors import InvalidInput

__all__ = [
    "HASH_BITS",
    "MAX_PIXELS",
    "ImageHasher",
    "ImageMatrix",
    "PerceptualHasher",
    "crops",
    "record_crops",
    "open_image",
    "popcount",
]

HASH_BITS = 64
CENTRE = 0.84
MAX_PIXELS = 60_000_000


class ImageHasher(Protocol):
    """Hashes an image into a few 64-bit perceptual hashes; ``version`` names the recipe."""

    version: str
    per_crop: int

    def hashes(self, image: Image.Image) -> npt.NDArray[np.uint64]:
        """The image's ``per_crop`` hashes, one uint64 each."""
        ...


class PerceptualHasher:
    """pHash and dHash, 8x8 each (the embedded default)."""

    version = "phash8-dhash8-centre84-1"
    per_crop = 2

    def hashes(self, image: Image.Image) -> npt.NDArray[np.uint64]:
        import imagehash

        values = [imagehash.phash(image, hash_size=8), imagehash.dhash(image, hash_size=8)]
        return np.array(
            [int(str(h), 16) for h in values],
            dtype=np.uint64,
        )


def open_image(data: bytes) -> Image.Image:
    """Decode an image (PNG, JPEG, GIF, WebP) into greyscale-ready RGB, refusing pixel bombs."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidInput(
                    f"image of {width}x{height} pixels is larger than {MAX_PIXELS} pixels"
                )
            image.draft("RGB", (1024, 1024))
            return image.convert("RGB")
    except InvalidInput:
        raise
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput("the image could not be decoded") from None


def _centre(w: int, h: int) -> tuple[int, int, int, int]:
    dx, dy = int(w * (1 - CENTRE) / 2), int(h * (1 - CENTRE) / 2)
    return (dx, dy, w - dx, h - dy)


def record_crops(image: Image.Image) -> list[Image.Image]:
    """What a record's signature hashes: the whole image and its centre."""
    w, h = image.size
    return [image, image.crop(_centre(w, h))]


def crops(image: Image.Image) -> list[Image.Image]:
    """What an output is hashed in: whole, centre, its two halves each way and its four quarters."""
    w, h = image.size
    boxes = [
        (0, 0, w, h),
        _centre(w, h),
        (0, 0, w // 2, h),
        (w // 2, 0, w, h),
        (0, 0, w, h // 2),
        (0, h // 2, w, h),
        (0, 0, w // 2, h // 2),
        (w // 2, 0, w, h // 2),
        (0, h // 2, w // 2, h),
        (w // 2, h // 2, w, h),
    ]
    return [image.crop(box) for box in boxes if box[2] - box[0] >= 8 and box[3] - box[1] >= 8]


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(values: npt.NDArray[np.unsignedinteger]) -> npt.NDArray[np.uint8]:
    """Set bits per element of an unsigned integer array."""
    counts: npt.NDArray[np.uint8]
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        counts = np.bitwise_count(values).astype(np.uint8)
    else:
        counts = _BYTE_BITS[values[..., None].view(np.uint8)].sum(axis=-1, dtype=np.uint8)
    return counts


class ImageMatrix:
    """A manifest's image hashes: per record, its crops' hashes (``rows[i]``: flat uint64)."""

    def __init__(self, rows: Sequence[npt.NDArray[np.uint64]], per_crop: int = 2) -> None:
        self.size = len(rows)
        self.per_crop = per_crop
        self.hashes = (
            np.vstack(rows).astype(np.uint64).reshape(self.size, -1, per_crop)
            if rows
            else np.zeros((0, 1, per_crop), dtype=np.uint64)
        )

    def scores(self, query: npt.NDArray[np.uint64]) -> npt.NDArray[np.float32]:
        """Best similarity of each record to the query (``query``: crops x hashes per crop)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        xor = self.hashes[:, :, None, :] ^ query[None, None, :, :]
        distance = popcount(xor).mean(axis=3)
        best = distance.reshape(self.size, -1).min(axis=1)
        scores: npt.NDArray[np.float32] = (1.0 - best / HASH_BITS).astype(np.float32)
        return scores
