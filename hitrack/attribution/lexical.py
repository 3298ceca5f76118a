"""Lexical similarity for the text signal: word and character TF-IDF over hashed n-grams.

A record's lexical signature is computed once, without knowing any manifest:
its word 1-2-grams and character 3-5-grams (inside word boundaries) hashed into
fixed feature spaces (scikit-learn's ``HashingVectorizer``), with sublinear
term frequencies ``1 + log(tf)``. Character n-grams are thinned to the one in
:data:`CHAR_SAMPLE` whose hash is divisible by it: the same n-gram is kept or
dropped in every text alike, so the cosine on the kept ones estimates the full
cosine while a signature stays small. Only the first :data:`MAX_CHARS`
characters of a text count.

The inverse document frequencies belong to the manifest: :class:`LexicalMatrix`
stacks a manifest's signatures, weights them ``tf * idf`` with scikit-learn's
smoothed idf, drops features found in more than ``max(1000, N/10)`` records
(they carry almost no information and would make every search touch most
rows), and scores a query as the mean of its word and character cosines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

__all__ = [
    "CHAR_SAMPLE",
    "FEATURE_SPACE",
    "LEXICAL_VERSION",
    "MAX_CHARS",
    "LexicalFeatures",
    "LexicalMatrix",
    "lexical_features",
]

LEXICAL_VERSION = "tfidf-w12-c35s4-1"
FEATURE_SPACE = 2**20
CHAR_SAMPLE = 4
MAX_CHARS = 20_000
MIN_MAX_DF = 1000

_WORDS = HashingVectorizer(
    analyzer="word",
    ngram_range=(1, 2),
    n_features=FEATURE_SPACE,
    alternate_sign=False,
    norm=None,
    strip_accents="unicode",
    dtype=np.float32,
)
_CHARS = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(3, 5),
    n_features=FEATURE_SPACE,
    alternate_sign=False,
    norm=None,
    strip_accents="unicode",
    dtype=np.float32,
)


@dataclass(frozen=True)
class LexicalFeatures:
    """Hashed n-gram features of one text: word features first, then character features.

    Indices below :data:`FEATURE_SPACE` are word n-grams, the rest character
    n-grams (offset by :data:`FEATURE_SPACE`); values are ``1 + log(tf)``.
    """

    indices: npt.NDArray[np.uint32]
    values: npt.NDArray[np.float32]

    def to_bytes(self) -> bytes:
        count = np.array([len(self.indices)], dtype="<u4")
        return (
            count.tobytes()
            + self.indices.astype("<u4").tobytes()
            + self.values.astype("<f4").tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LexicalFeatures:
        count = int(np.frombuffer(data, dtype="<u4", count=1)[0])
        indices = np.frombuffer(data, dtype="<u4", count=count, offset=4)
        values = np.frombuffer(data, dtype="<f4", count=count, offset=4 + 4 * count)
        return cls(indices.astype(np.uint32), values.astype(np.float32))


def lexical_features(text: str) -> LexicalFeatures:
    """The lexical signature of ``text``.

    Examples
    --------
    >>> f = lexical_features("the tide came in")
    >>> bool(len(f.indices)) and bool((f.values >= 1).all())
    True
    """
    text = text[:MAX_CHARS]
    words = _WORDS.transform([text]).tocsr()
    chars = _CHARS.transform([text]).tocsr()
    keep = chars.indices % CHAR_SAMPLE == 0
    indices = np.concatenate(
        [words.indices.astype(np.int64), chars.indices[keep].astype(np.int64) + FEATURE_SPACE]
    )
    counts = np.concatenate([words.data, chars.data[keep]])
    order = np.argsort(indices, kind="stable")
    return LexicalFeatures(
        indices[order].astype(np.uint32),
        (1.0 + np.log(counts[order])).astype(np.float32),
    )


class LexicalMatrix:
    """A manifest's lexical signatures weighted by the manifest's idf, searchable by cosine."""

    def __init__(self, rows: Sequence[LexicalFeatures]) -> None:
        self.size = len(rows)
        width = 2 * FEATURE_SPACE
        lengths = np.fromiter((len(r.indices) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = (
            np.concatenate([r.indices for r in rows]).astype(np.int64)
            if rows
            else np.zeros(0, dtype=np.int64)
        )
        values = np.concatenate([r.values for r in rows]) if rows else np.zeros(0, dtype=np.float32)
        df = np.bincount(indices, minlength=width)
        n = max(self.size, 1)
        self.idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        self.idf[df > max(MIN_MAX_DF, math.ceil(n / 10))] = 0.0
        weighted = values * self.idf[indices]
        matrix = sparse.csr_matrix((weighted, indices, indptr), shape=(self.size, width))
        self._word = _normalised(matrix[:, :FEATURE_SPACE]).tocsc()
        self._char = _normalised(matrix[:, FEATURE_SPACE:]).tocsc()

    def scores(self, query: LexicalFeatures) -> npt.NDArray[np.float32]:
        """Cosine similarity of ``query`` to every row: mean of the word and character cosines."""
        result = np.zeros(self.size, dtype=np.float32)
        if self.size == 0:
            return result
        indices = query.indices.astype(np.int64)
        weights = query.values * self.idf[indices]
        for block, low in ((self._word, 0), (self._char, FEATURE_SPACE)):
            mask = (indices >= low) & (indices < low + FEATURE_SPACE)
            cols, vals = indices[mask] - low, weights[mask]
            norm = float(np.linalg.norm(vals))
            if norm == 0:
                continue
            present = vals > 0
            cols, vals = cols[present], vals[present] / norm
            result += 0.5 * np.asarray(block[:, cols] @ vals, dtype=np.float32).ravel()
        return result


def _normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms).dot(matrix), dtype=np.float32)
