"""Exact shares: parsing and printing the rationals the contribution graph runs on.

A share is a :class:`fractions.Fraction`, never a binary float, so that a split
written as ``"1/3"`` or ``"0.1"`` means exactly that. Input may be an integer,
a decimal string (``"0.25"``), a fraction string (``"1/3"``), a
:class:`decimal.Decimal` (how :func:`loads_json` reads JSON numbers, through
their decimal text) or a ``Fraction``. Range checks are left to the callers,
which know the ids to name in the message.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hitrack.domain.errors import InvalidInput, InvalidShare

__all__ = [
    "parse_share",
    "format_share",
    "format_percent",
    "exact_percent",
    "loads_json",
    "holds_nul",
]

# Bounded so that a hostile "1e999999999" cannot make us build a gigantic integer.
_MAX_TEXT = 200
_MAX_EXPONENT = 100
_INTEGER = re.compile(r"[+-]?\d+")
_FRACTION = re.compile(r"(?P<num>[+-]?\d+)\s*/\s*(?P<den>\d+)")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE](?P<exp>[+-]?\d+))?")


def parse_share(value: int | str | Decimal | Fraction, *, what: str = "share") -> Fraction:
    """Read an exact rational from an integer, decimal or fraction text.

    Parameters
    ----------
    value : int, str, Decimal or Fraction
        The share. Floats and booleans are refused: a float has already lost
        the exact value the user wrote.
    what : str
        How to name the value in an error message, e.g. ``"share of p1 -> r1"``.

    Returns
    -------
    Fraction
        The exact value; no range check is made.

    Raises
    ------
    InvalidShare
        When the value is of the wrong type or is not a number.

    Examples
    --------
    >>> parse_share("1/3"), parse_share("0.25"), parse_share(1)
    (Fraction(1, 3), Fraction(1, 4), Fraction(1, 1))
    """
    if isinstance(value, bool | float):
        raise InvalidShare(
            f"{what}: {value!r} is not an exact number (use an integer, a decimal "
            'string like "0.25" or a fraction string like "1/3")'
        )
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidShare(f"{what}: {value} is not a finite number")
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or abs(exponent) > _MAX_EXPONENT:
            raise InvalidShare(f"{what}: {value} is out of range")
        return Fraction(value)
    if isinstance(value, str):
        return _parse_text(value, what)
    raise InvalidShare(f"{what}: expected a number or a string, got {type(value).__name__}")


def _parse_text(text: str, what: str) -> Fraction:
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT:
        raise InvalidShare(f"{what}: value is too long")
    if _INTEGER.fullmatch(stripped):
        return Fraction(int(stripped))
    match = _FRACTION.fullmatch(stripped)
    if match:
        denominator = int(match["den"])
        if denominator == 0:
            raise InvalidShare(f"{what}: {text!r} divides by zero")
        return Fraction(int(match["num"]), denominator)
    match = _DECIMAL.fullmatch(stripped)
    if match:
        if match["exp"] is not None and abs(int(match["exp"])) > _MAX_EXPONENT:
            raise InvalidShare(f"{what}: {text!r} is out of range")
        return Fraction(Decimal(stripped))
    raise InvalidShare(f"{what}: {text!r} is not a number")


def format_share(f: Fraction) -> str:
    """Print a share exactly, as the shortest faithful text.

    Integers print as integers, values whose denominator has only the factors 2
    and 5 as exact decimals, anything else as ``"p/q"``.

    Examples
    --------
    >>> format_share(Fraction(1, 4)), format_share(Fraction(1, 3)), format_share(Fraction(2))
    ('0.25', '1/3', '2')
    """
    if f.denominator == 1:
        return str(f.numerator)
    denominator = f.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{f.numerator}/{f.denominator}"
    digits = max(twos, fives)
    scaled = abs(f.numerator) * 10**digits // f.denominator
    sign = "-" if f < 0 else ""
    whole, fraction = divmod(scaled, 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"


def format_percent(share: Fraction) -> str:
    """A share as a percent for people to read: exact when whole, else to two decimals.

    The one percent format of pages and labels (the ``percent`` template
    filter, the graph view); explanations use :func:`exact_percent`.

    Examples
    --------
    >>> format_percent(Fraction(2, 5)), format_percent(Fraction(1, 8)), format_percent(Fraction(1, 3))
    ('40%', '12.5%', '33.33%')
    """
    pct = Fraction(share) * 100
    if pct.denominator == 1:
        return f"{pct.numerator}%"
    return f"{float(pct):.2f}".rstrip("0").rstrip(".") + "%"


def exact_percent(share: Fraction) -> str | None:
    """A share as an exact percent, or None when no finite decimal is exact.

    For explanations, which never round: a caller words the other shares as a
    fraction instead.

    Examples
    --------
    >>> exact_percent(Fraction(1, 8)), exact_percent(Fraction(1, 3))
    ('12.5%', None)
    """
    text = format_share(Fraction(share) * 100)
    return None if "/" in text else f"{text}%"


def loads_json(text: str) -> Any:
    """Parse JSON reading every non-integer number as a :class:`~decimal.Decimal`.

    Raises
    ------
    InvalidInput
        On malformed JSON, with the line and column, and on a NUL character
        (``\\u0000``) in any string or key: no text hitrack keeps may hold one.

    Examples
    --------
    >>> loads_json('{"share": 0.1}')
    {'share': Decimal('0.1')}
    """
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise InvalidInput("malformed JSON: nested too deeply") from None
    if "\\u0000" in text and holds_nul(data):
        raise InvalidInput("NUL characters are not allowed (in JSON text)")
    return data


def holds_nul(value: object) -> bool:
    """Whether any string or key of parsed JSON ``value`` holds a NUL character.

    Examples
    --------
    >>> holds_nul({"a": ["b", "c\\x00"]}), holds_nul({"a": 1})
    (True, False)
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\0" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
