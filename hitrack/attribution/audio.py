"""The audio signal: Chromaprint fingerprints compared by bit error rate.

Chromaprint (Debian's ``libchromaprint-tools``, the ``fpcalc`` command) turns
audio into one 32-bit word per ~0.124 s frame, each bit a comparison of
chroma features. Two recordings of the same music give words that agree in
most bits once they are aligned, even through noise or re-encoding.

A record's signature is its raw fingerprint. An output's fingerprint is cut
into segments of :data:`SEGMENT` frames (about 4 s, every half segment); each
segment slides over every record, and the record's bit error rate is the
lowest, over segments and offsets, of the fraction of differing bits. So an
excerpt matches the work it was cut from, and a medley of two works matches
both. The score is ``1 - 2 * BER``, clipped to [0, 1]: about 0.1 to 0.2 for
unrelated audio, close to 1 for a copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from hitrack.attribution.image import popcount
from hitrack.domain.errors import InvalidInput

__all__ = [
    "MAX_SECONDS",
    "SEGMENT",
    "AudioFingerprinter",
    "AudioMatrix",
    "Chromaprint",
    "FingerprintUnavailable",
    "find_fpcalc",
]

SEGMENT = 32
MAX_SECONDS = 300
_TIMEOUT = 120


class FingerprintUnavailable(RuntimeError):
    """``fpcalc`` is not installed (apt-get install libchromaprint-tools)."""


class AudioFingerprinter(Protocol):
    """Turns audio bytes into a fingerprint of uint32 frames; ``version`` names the algorithm."""

    version: str

    def fingerprint(self, data: bytes) -> npt.NDArray[np.uint32]:
        """The raw fingerprint; :class:`InvalidInput` if the audio cannot be decoded."""
        ...


def find_fpcalc() -> str:
    path = shutil.which("fpcalc")
    if path is None:
        raise FingerprintUnavailable(
            "audio fingerprints need fpcalc (apt-get install libchromaprint-tools)"
        )
    return path


class Chromaprint:
    """Chromaprint through the ``fpcalc`` command (the embedded default)."""

    def __init__(self, fpcalc: str | None = None, *, max_seconds: int = MAX_SECONDS) -> None:
        self.fpcalc = fpcalc or find_fpcalc()
        self.max_seconds = max_seconds
        output = subprocess.run(
            [self.fpcalc, "-version"], capture_output=True, text=True, timeout=_TIMEOUT, check=False
        ).stdout
        match = re.search(r"version (\S+)", output)
        self.version = f"chromaprint-{match.group(1) if match else 'unknown'}-alg2"

    def fingerprint(self, data: bytes) -> npt.NDArray[np.uint32]:
        with tempfile.NamedTemporaryFile(prefix="hitrack-audio-", delete=False) as file:
            file.write(data)
            path = file.name
        try:
            done = subprocess.run(
                [self.fpcalc, "-raw", "-json", "-length", str(self.max_seconds), path],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
        finally:
            os.unlink(path)
        # fpcalc 1.5 with FFmpeg 5 reports "Error decoding audio frame (End of
        # file)" and exits 3 at the end of many files after printing a complete
        # fingerprint, so the printed fingerprint decides, not the exit code.
        frames: list[int] = []
        if "Empty fingerprint" not in done.stderr:  # fpcalc's word for audio too short
            try:
                frames = json.loads(done.stdout).get("fingerprint") or []
            except (json.JSONDecodeError, AttributeError):
                raise InvalidInput("the audio could not be decoded for fingerprinting") from None
        if len(frames) < SEGMENT:
            raise InvalidInput("the audio is too short to fingerprint (5 seconds at least)")
        return (np.asarray(frames, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32)


def segments(fingerprint: npt.NDArray[np.uint32]) -> list[npt.NDArray[np.uint32]]:
    """Overlapping segments of :data:`SEGMENT` frames (the whole print if it is shorter)."""
    if len(fingerprint) <= SEGMENT:
        return [fingerprint]
    starts = list(range(0, len(fingerprint) - SEGMENT + 1, SEGMENT // 2))
    if starts[-1] != len(fingerprint) - SEGMENT:
        starts.append(len(fingerprint) - SEGMENT)
    return [fingerprint[s : s + SEGMENT] for s in starts]


class AudioMatrix:
    """A manifest's fingerprints laid end to end, searched segment by segment."""

    def __init__(self, rows: Sequence[npt.NDArray[np.uint32]]) -> None:
        self.size = len(rows)
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)])
        self.frames = (
            np.concatenate(list(rows)).astype(np.uint32) if rows else np.zeros(0, np.uint32)
        )
        self.owner = np.repeat(np.arange(self.size), lengths)

    def bit_error_rates(self, query: npt.NDArray[np.uint32]) -> npt.NDArray[np.float32]:
        """The lowest bit error rate of any query segment against each row, at any offset."""
        best = np.ones(self.size, dtype=np.float32)
        for segment in segments(query):
            width = len(segment)
            if len(self.frames) < width:
                continue
            windows = np.lib.stride_tricks.sliding_window_view(self.frames, width)
            errors = popcount(windows ^ segment[None, :]).sum(axis=1, dtype=np.int64)
            # A window is valid when it lies inside one record.
            valid = self.owner[: len(errors)] == self.owner[width - 1 :]
            rate = np.where(valid, errors / (32.0 * width), 1.0).astype(np.float32)
            np.minimum.at(best, self.owner[: len(rate)], rate)
        return best

    def scores(self, query: npt.NDArray[np.uint32]) -> npt.NDArray[np.float32]:
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        scores: npt.NDArray[np.float32] = np.clip(
            1.0 - 2.0 * self.bit_error_rates(query), 0.0, 1.0
        ).astype(np.float32)
        return scores
