"""Arrays the fast engine is made of: exact rationals as int64 columns, extended precision, CSR gathers.

A column of exact rationals (:class:`Rationals`) keeps int64 numerators and
denominators; a value that does not fit has denominator 0 there and is kept
exactly, by position, in the column's ``overflow``. Nothing is ever rounded
on the way in: the extended-precision copies (:meth:`Rationals.longdouble`)
are what the propagation multiplies by, the exact values are what the
recomputation and the rules read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "LD",
    "UNIT",
    "I32",
    "I64",
    "F64",
    "LDA",
    "INT64_LIMIT",
    "Rationals",
    "to_longdouble",
    "gather_rows",
    "row_sums",
]

LD = np.longdouble
# Unit roundoff of the working precision (2**-64 with x87 extended precision,
# 2**-53 where longdouble is plain double: the bounds adapt either way).
UNIT = float(np.finfo(LD).eps) / 2

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
LDA = npt.NDArray[np.longdouble]

# Numerators and denominators are kept in int64 below this bound, which leaves
# room for the sums and products the vectorised checks make.
INT64_LIMIT = 2**62


def to_longdouble(numerator: int, denominator: int) -> np.longdouble:
    """A rational in extended precision, within ~10 units of roundoff even for huge terms."""
    shift_n = max(numerator.bit_length() - 63, 0)
    shift_d = max(denominator.bit_length() - 63, 0)
    return LD(
        np.ldexp(LD(numerator >> shift_n), shift_n) / np.ldexp(LD(denominator >> shift_d), shift_d)
    )


def gather_rows(ptr: I64, rows: npt.NDArray[Any]) -> I64:
    """Indices of all CSR entries of ``rows``, row after row."""
    starts = ptr[rows]
    counts = ptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    result: I64 = offsets + np.arange(total, dtype=np.int64)
    return result


@dataclass(frozen=True, eq=False)
class Rationals:
    """A column of exact rationals: ``num[i] / den[i]``, or ``overflow[i]`` where ``den[i] == 0``.

    Examples
    --------
    >>> column = Rationals.of([Fraction(1, 3), Fraction(1, 3**50)])
    >>> column.den.tolist(), column[0], column[1] == Fraction(1, 3**50)
    ([3, 0], Fraction(1, 3), True)
    """

    num: I64
    den: I64
    overflow: dict[int, Fraction] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Sequence[Fraction]) -> Rationals:
        """The column of ``values``; those beyond int64 go to the overflow."""
        num = np.empty(len(values), np.int64)
        den = np.empty(len(values), np.int64)
        overflow: dict[int, Fraction] = {}
        for i, value in enumerate(values):
            if abs(value.numerator) < INT64_LIMIT and value.denominator < INT64_LIMIT:
                num[i], den[i] = value.numerator, value.denominator
            else:
                num[i], den[i] = 0, 0
                overflow[i] = value
        return cls(num, den, overflow)

    @classmethod
    def columns(
        cls,
        num: npt.ArrayLike,
        den: npt.ArrayLike,
        overflow: Mapping[int, Fraction] | None = None,
    ) -> Rationals:
        """A column from given numerators and denominators (int64)."""
        return cls(np.asarray(num, np.int64), np.asarray(den, np.int64), dict(overflow or {}))

    @classmethod
    def concatenate(cls, columns: Sequence[Rationals]) -> Rationals:
        """The columns one after the other."""
        overflow: dict[int, Fraction] = {}
        offset = 0
        for column in columns:
            overflow.update({offset + i: v for i, v in column.overflow.items()})
            offset += len(column)
        return cls(
            np.concatenate([c.num for c in columns]).astype(np.int64),
            np.concatenate([c.den for c in columns]).astype(np.int64),
            overflow,
        )

    def __len__(self) -> int:
        return len(self.num)

    def __getitem__(self, position: int) -> Fraction:
        den = int(self.den[position])
        if den == 0:
            return self.overflow[int(position)]
        return Fraction(int(self.num[position]), den)

    def take(self, order: npt.NDArray[Any]) -> Rationals:
        """The column reordered (or selected): position ``i`` holds old position ``order[i]``."""
        den = self.den[order]
        overflow = {int(i): self.overflow[int(order[i])] for i in np.flatnonzero(den == 0).tolist()}
        return Rationals(self.num[order], den, overflow)

    def longdouble(self) -> LDA:
        """The column in extended precision."""
        safe = np.where(self.den == 0, 1, self.den)
        result: LDA = self.num.astype(LD) / safe.astype(LD)
        for i, value in self.overflow.items():
            result[i] = to_longdouble(value.numerator, value.denominator)
        return result

    def nonzero(self) -> npt.NDArray[np.bool_]:
        """Where the value is not 0 (an overflowed value never is)."""
        result: npt.NDArray[np.bool_] = (self.num != 0) | (self.den == 0)
        return result


def row_sums(ptr: I64, values: Rationals) -> tuple[I64, I64, dict[int, Fraction]]:
    """Exact per-row sums of a column: vectorised when a common denominator fits, else Python.

    Returns numerators and denominators per row, and the exact sums of the
    rows done in Python (their int64 entries are not meaningful).
    """
    num, den = values.num, values.den
    rows = len(ptr) - 1
    sum_num = np.zeros(rows, np.int64)
    sum_den = np.ones(rows, np.int64)
    slow: dict[int, Fraction] = {}
    nonempty = np.flatnonzero(np.diff(ptr) > 0)
    if nonempty.size and num.size:
        safe_den = np.where(den <= 0, 1, den)
        # The common denominator divides the product of the denominators; where
        # that product (times the term count) stays below 2**61 nothing overflows.
        magnitude = np.add.reduceat(np.log2(safe_den.astype(np.float64)), ptr[nonempty])
        magnitude += np.log2(np.diff(ptr)[nonempty].astype(np.float64))
        fits = (magnitude < 60.5) & (np.minimum.reduceat(den, ptr[nonempty]) > 0)
        row_of = np.repeat(np.arange(nonempty.size), np.diff(ptr)[nonempty])
        safe_den = np.where(fits[row_of], safe_den, 1)
        lcm = np.lcm.reduceat(safe_den, ptr[nonempty])
        small = lcm[row_of]
        scaled = num * (small // safe_den)
        totals = np.add.reduceat(scaled, ptr[nonempty])
        good = nonempty[fits]
        divisor = np.gcd(totals[fits], lcm[fits])
        divisor = np.where(divisor == 0, 1, divisor)
        sum_num[good] = totals[fits] // divisor
        sum_den[good] = lcm[fits] // divisor
        for row in nonempty[~fits].tolist():
            total = Fraction(0)
            for k in range(int(ptr[row]), int(ptr[row + 1])):
                total += values[k]
            slow[row] = total
    return sum_num, sum_den, slow
