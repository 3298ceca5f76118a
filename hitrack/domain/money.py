"""Money as integers: micro-units, the one allocation rule, and printing.

All money in hitrack is an integer number of micro-units of one currency
(1 USD = 1,000,000 micros). Floats never hold money: an amount split along the
graph is first an exact :class:`~fractions.Fraction` entitlement per creator,
then :func:`allocate` turns the entitlements into integers that sum exactly to
the total (largest remainder, ties by key). Every split of money in hitrack goes
through that one function, so no two places can round differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from hitrack.domain.errors import InvalidInput

__all__ = [
    "MICROS_PER_UNIT",
    "MICROS_PER_CENT",
    "allocate",
    "format_micros",
    "format_micros_exact",
    "to_cents",
]

MICROS_PER_UNIT = 1_000_000
MICROS_PER_CENT = MICROS_PER_UNIT // 100


def allocate(total: int, entitlements: Mapping[str, Fraction]) -> dict[str, int]:
    """Turn exact entitlements into integer micros that sum exactly to ``total``.

    Each key gets the floor of its entitlement; the micros left over go one
    each to the keys with the largest fractional parts, ties broken by key
    ascending (string order).

    Parameters
    ----------
    total : int
        The integer amount being split.
    entitlements : Mapping[str, Fraction]
        Non-negative exact entitlements summing exactly to ``total``.

    Returns
    -------
    dict[str, int]
        Every key given, zeros included (callers drop them if they wish).

    Raises
    ------
    InvalidInput
        If an entitlement is negative or the entitlements do not sum to ``total``.

    Examples
    --------
    >>> allocate(10, {"a": Fraction(10, 3), "b": Fraction(10, 3), "c": Fraction(10, 3)})
    {'a': 4, 'b': 3, 'c': 3}
    """
    if any(value < 0 for value in entitlements.values()):
        raise InvalidInput("an entitlement is negative")
    if sum(entitlements.values(), Fraction(0)) != total:
        raise InvalidInput(f"entitlements do not sum to the total {total}")
    floors = {key: value.numerator // value.denominator for key, value in entitlements.items()}
    remaining = total - sum(floors.values())
    if remaining:
        by_remainder = sorted(
            entitlements, key=lambda key: (-(entitlements[key] - floors[key]), key)
        )
        for key in by_remainder[:remaining]:
            floors[key] += 1
    return floors


def to_cents(micros: int) -> int:
    """Whole cents in ``micros``, truncated toward zero.

    Examples
    --------
    >>> to_cents(12_345_678), to_cents(-15_000)
    (1234, -1)
    """
    cents = abs(micros) // MICROS_PER_CENT
    return -cents if micros < 0 else cents


def format_micros(micros: int, currency: str = "USD") -> str:
    """Print an amount to the cent, truncating toward zero (sub-cent is not shown).

    ``currency`` is accepted so callers need not special-case it; every
    currency hitrack handles has two decimals of minor unit.

    Examples
    --------
    >>> format_micros(12_345_678), format_micros(-5_000)
    ('12.34', '0.00')
    """
    cents = to_cents(micros)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def format_micros_exact(micros: int) -> str:
    """Print an amount with all six decimals, so sub-cent amounts are visible.

    Examples
    --------
    >>> format_micros_exact(12_345_678), format_micros_exact(-5)
    ('12.345678', '-0.000005')
    """
    sign = "-" if micros < 0 else ""
    whole, part = divmod(abs(micros), MICROS_PER_UNIT)
    return f"{sign}{whole}.{part:06d}"
