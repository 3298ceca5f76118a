"""The exact attribution vector: integers summing to 10^6, by the one allocation rule.

Scores (the platform's similarity of each confident match, or an operator's
own scores) are turned into exact weights and split with
:func:`hitrack.domain.money.allocate` (largest remainder, ties by record id),
so the vector an output carries into a revenue event is the same on every
machine. A float similarity is read at six decimals before it becomes a
weight; an operator's scores are read exactly (decimal or fraction text, or a
JSON number through its decimal text).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from fractions import Fraction

from hitrack.domain.errors import InvalidInput, InvalidShare
from hitrack.domain.money import allocate
from hitrack.domain.shares import parse_share

__all__ = ["VECTOR_TOTAL", "attribution_vector", "operator_scores", "score_weight"]

VECTOR_TOTAL = 10**6


def score_weight(score: float) -> Fraction:
    """A similarity as an exact weight, at six decimals.

    Examples
    --------
    >>> score_weight(0.8123456)
    Fraction(406173, 500000)
    """
    return Fraction(round(score * VECTOR_TOTAL), VECTOR_TOTAL)


def attribution_vector(weights: Mapping[str, Fraction]) -> dict[str, int]:
    """Integers summing to :data:`VECTOR_TOTAL`, proportional to the weights; empty if none is positive.

    Examples
    --------
    >>> attribution_vector({"r1": Fraction(2), "r2": Fraction(1)})
    {'r1': 666667, 'r2': 333333}
    >>> attribution_vector({})
    {}
    """
    positive = {key: w for key, w in weights.items() if w > 0}
    total = sum(positive.values(), Fraction(0))
    if total <= 0:
        return {}
    return allocate(VECTOR_TOTAL, {key: VECTOR_TOTAL * w / total for key, w in positive.items()})


def operator_scores(raw: object, manifest: Collection[str]) -> dict[str, Fraction]:
    """Check an operator's scores (record id -> number) and clip negative ones to 0.

    Raises
    ------
    InvalidInput
        Not a non-empty object; a key outside ``manifest``; a value that is not
        a finite exact number (NaN, infinity, a boolean); or no score left
        above 0 once negatives are clipped. The message names the ids.

    Examples
    --------
    >>> operator_scores({"r1": "0.5", "r2": -1}, {"r1", "r2"})
    {'r1': Fraction(1, 2), 'r2': Fraction(0, 1)}
    """
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput("scores: expected a non-empty object of record id -> number")
    outside = sorted(str(key) for key in raw if not isinstance(key, str) or key not in manifest)
    if outside:
        raise InvalidInput(
            "scores name records outside the model's manifest: " + ", ".join(outside[:20]),
            ids=tuple(outside[:20]),
        )
    scores: dict[str, Fraction] = {}
    bad: list[str] = []
    for key, value in raw.items():
        try:
            scores[key] = max(Fraction(0), parse_share(value, what=f"score of {key}"))
        except InvalidShare:
            bad.append(key)
    if bad:
        raise InvalidInput(
            "scores must be finite numbers (no NaN, infinity or true/false): "
            + ", ".join(sorted(bad)[:20]),
            ids=tuple(sorted(bad)[:20]),
        )
    if not any(score > 0 for score in scores.values()):
        raise InvalidInput(
            "scores: none is above 0 (negative scores count as 0), so they attribute nothing"
        )
    return scores
