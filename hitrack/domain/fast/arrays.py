"""Array helpers of the fast engine: extended precision, CSR gathers, exact rational sums."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

LD = np.longdouble
# Unit roundoff of the working precision (2**-64 with x87 extended precision,
# 2**-53 where longdouble is plain double: the bounds adapt either way).
UNIT = float(np.finfo(LD).eps) / 2
# Per-work rounding budget on top of the summation terms: share conversion
# (up to ~10 units for huge rationals), the product, and the final addition.
_NODE_ROUNDINGS = 16
# Rounding budget of an injected value (an exact integer or one converted rational).
_INJECT_ROUNDINGS = 16
# Slack for the second-order terms the first-order bounds leave out.
_SLACK = 1.01

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
LDA = npt.NDArray[np.longdouble]
Injection = tuple[int, int, "dict[int, Fraction] | None"]


def _to_ld(numerator: int, denominator: int) -> np.longdouble:
    """A rational in extended precision, within ~10 units of roundoff even for huge terms."""
    shift_n = max(numerator.bit_length() - 63, 0)
    shift_d = max(denominator.bit_length() - 63, 0)
    return LD(
        np.ldexp(LD(numerator >> shift_n), shift_n) / np.ldexp(LD(denominator >> shift_d), shift_d)
    )


def _gather_rows(indptr: I64, rows: npt.NDArray[Any]) -> I64:
    """Indices of all CSR entries of ``rows``, row after row."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    result: I64 = offsets + np.arange(total, dtype=np.int64)
    return result


def _split_fractions(
    values: Sequence[Fraction], tag: str, big: dict[str, Fraction]
) -> tuple[I64, I64]:
    """Numerators and denominators as int64; values that do not fit go to ``big``."""
    limit = 2**62
    num = np.empty(len(values), np.int64)
    den = np.empty(len(values), np.int64)
    for i, value in enumerate(values):
        if abs(value.numerator) < limit and value.denominator < limit:
            num[i], den[i] = value.numerator, value.denominator
        else:
            num[i], den[i] = 0, 0
            big[f"{tag}:{i}"] = value
    return num, den


def _row_sums(
    ptr: I64, num: I64, den: I64, tag: str, big: dict[str, Fraction]
) -> tuple[I64, I64, dict[int, Fraction]]:
    """Exact per-row sums of rationals: vectorised when a common denominator fits, else Python."""
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
        gcd = np.gcd(totals[fits], lcm[fits])
        gcd = np.where(gcd == 0, 1, gcd)
        sum_num[good] = totals[fits] // gcd
        sum_den[good] = lcm[fits] // gcd
        for row in nonempty[~fits].tolist():
            total = Fraction(0)
            for k in range(int(ptr[row]), int(ptr[row + 1])):
                total += big[f"{tag}:{k}"] if den[k] == 0 else Fraction(int(num[k]), int(den[k]))
            slow[row] = total
    return sum_num, sum_den, slow
