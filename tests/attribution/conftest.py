"""The attribution signals as the platform runs them, and generated media to match.

The real embedding model and the real ``fpcalc`` are required: in CI
(``CI=true``) a missing one fails the run; elsewhere its tests are skipped
with the reason (``make test`` installs both).
"""

from __future__ import annotations

import os
import random

import pytest

from benchmarks import attribution_corpus as corpus
from hitrack.attribution import Signals, default_signals

IN_CI = os.environ.get("CI") == "true"


def require(reason: str | None) -> None:
    if reason:
        if IN_CI:
            pytest.fail(f"CI must test every attribution signal: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def signals() -> Signals:
    found = default_signals()
    require(found.embedder_note if found.embedder is None else None)
    require(found.fingerprinter_note if found.fingerprinter is None else None)
    return found


@pytest.fixture(scope="session")
def texts() -> list[str]:
    rng = random.Random(3)
    return [corpus.make_text(rng) for _ in range(8)]


@pytest.fixture(scope="session")
def images() -> list[bytes]:
    rng = random.Random(4)
    return [corpus.encode(corpus.make_image(rng, size=128)) for _ in range(5)]


@pytest.fixture(scope="session")
def melodies() -> list[bytes]:
    rng = random.Random(5)
    return [corpus.wav(corpus.render(rng, corpus.make_melody(rng, 14.0), 14.0)) for _ in range(3)]
