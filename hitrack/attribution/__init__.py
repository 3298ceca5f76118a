"""Attribution: which works of a model's manifest an output resembles, and how much.

The platform cannot see a model's gradients, so it measures how close an
output is to each training work with its own signals (DESIGN section 10):

- text: a sentence embedding (all-MiniLM-L6-v2, shipped inside a PyPI package
  and loaded offline, :mod:`hitrack.attribution.embedding`) blended with
  lexical similarity (word and character TF-IDF, :mod:`hitrack.attribution.lexical`);
  without the embedding extra the lexical part works alone and says so;
- images: perceptual hashes (:mod:`hitrack.attribution.image`);
- audio: Chromaprint fingerprints compared by bit error rate over aligned
  offsets (:mod:`hitrack.attribution.audio`).

Each signal turns a record's media into a *signature* (bytes, stored once per
record and reused by every model that trains on it) and scores an output
against a manifest's signatures stacked into one matrix
(:mod:`hitrack.attribution.index`). Confident matches become an exact
attribution vector, integers summing to 10^6 (:mod:`hitrack.attribution.vector`).

This package does no I/O on the database or the web; :mod:`hitrack.services.attribution`
stores signatures and outputs and answers the API.
"""

from hitrack.attribution.index import (
    SIGNAL_KINDS,
    THRESHOLDS,
    ManifestIndex,
    Match,
    Signals,
    default_signals,
)
from hitrack.attribution.vector import VECTOR_TOTAL, attribution_vector, operator_scores

__all__ = [
    "SIGNAL_KINDS",
    "THRESHOLDS",
    "VECTOR_TOTAL",
    "ManifestIndex",
    "Match",
    "Signals",
    "attribution_vector",
    "default_signals",
    "operator_scores",
]
