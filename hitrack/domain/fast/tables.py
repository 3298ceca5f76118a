"""The named parts of a compact graph: works, citations, payees, credits, level layout, error bounds.

Works are numbered in a topological order grouped by *level* (a work's level
is one more than the highest level among the works citing it), so value only
ever flows from lower to higher positions and one level never feeds itself.
Every table is a set of flat numpy arrays over those positions; exact values
are :class:`~hitrack.domain.fast.arrays.Rationals` columns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from hitrack.domain.fast.arrays import F64, I32, I64, LDA, Rationals

__all__ = [
    "WorkTable",
    "CitationTable",
    "PayeeTable",
    "CreditTable",
    "LevelLayout",
    "ErrorBounds",
    "table_arrays",
    "table_from_arrays",
]


@dataclass(frozen=True, eq=False)
class WorkTable:
    """One entry per work, in position order; works of level ``k`` are ``level_ptr[k]:level_ptr[k + 1]``."""

    ids: npt.NDArray[np.str_]
    kinds: npt.NDArray[np.int8]
    titles: npt.NDArray[np.str_]
    consent_remix: npt.NDArray[np.bool_]
    consent_ai_training: npt.NDArray[np.bool_]
    level_ptr: I64
    retained: Rationals
    attribution_weight: Rationals


@dataclass(frozen=True, eq=False)
class CitationTable:
    """Citations by citing work: work ``w`` cites ``source[ptr[w]:ptr[w + 1]]`` (sorted).

    ``citer[citer_ptr[s]:citer_ptr[s + 1]]`` are the works citing ``s``, for
    the walks toward the citing works.
    """

    ptr: I64
    source: I32
    share: Rationals
    citer_ptr: I64
    citer: I32


@dataclass(frozen=True, eq=False)
class PayeeTable:
    """Payees by work (DESIGN section 1): work ``w`` pays ``payee[ptr[w]:ptr[w + 1]]`` (sorted).

    ``share`` is each payee's exact part of the work's retained value
    (:func:`hitrack.domain.payees.payee_shares`: its owners', and its
    credits' through the credit pool), ``weight`` that part times the
    retained share in extended precision: the part of the work's value the
    payee is paid. The same entries by payee: payee ``c`` is paid by
    ``by_payee_work[by_payee_ptr[c]:by_payee_ptr[c + 1]]`` with weights
    ``by_payee_weight``. Payees are indices into the graph's ``creators``.
    """

    ptr: I64
    payee: I32
    share: Rationals
    weight: LDA
    by_payee_ptr: I64
    by_payee_work: I32
    by_payee_weight: LDA


@dataclass(frozen=True, eq=False)
class CreditTable:
    """The credits of the works that have any, with their credit pools and owners.

    ``works`` lists those works (sorted positions); for the ``i``-th, the
    pool is ``pool[i]``, its credits are entries
    ``credit_ptr[i]:credit_ptr[i + 1]`` (``payee``, ``role``, ``weight``, in
    the order given) and its owners entries ``owner_ptr[i]:owner_ptr[i + 1]``
    (``owner``, ``ownership``), who alone recoup its costs. A work not
    listed has no credits and a pool of 0: its owners are its payees.
    """

    works: I32
    pool: Rationals
    credit_ptr: I64
    payee: I32
    role: npt.NDArray[np.str_]
    weight: Rationals
    owner_ptr: I64
    owner: I32
    ownership: Rationals


@dataclass(frozen=True, eq=False)
class LevelLayout:
    """Citations ordered by (level of the citing work, source): the propagation's layout.

    Citation ``i`` of this order passes ``share[i]`` of ``citing[i]``'s value
    to ``source[i]``; CSR citation ``e`` is at ``position[e]``. Citations of
    level ``k`` are ``level_ptr[k]:level_ptr[k + 1]``; they form segments
    (runs with one source) starting at ``segment_start``, those of level
    ``k`` being ``level_segment_ptr[k]:level_segment_ptr[k + 1]``. So one
    level's propagation is a gather, a multiply and a segmented sum.
    """

    citing: I32
    source: I32
    share: LDA
    position: I64
    level_ptr: I64
    segment_start: I64
    segment_source: I32
    level_segment_ptr: I64


@dataclass(frozen=True, eq=False)
class ErrorBounds:
    """Rigorous relative error bounds of the extended-precision propagation.

    ``work[w]`` bounds the relative error of any value reaching ``w``;
    ``payee[c]`` that of payee ``c``'s summed estimate.
    """

    work: F64
    payee: F64


def table_arrays(name: str, table: Any) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """A table as named arrays, and the overflow of its exact columns as JSON-ready text."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    overflow: dict[str, Any] = {}
    for item in fields(table):
        value = getattr(table, item.name)
        key = f"{name}.{item.name}"
        if isinstance(value, Rationals):
            arrays[f"{key}.num"], arrays[f"{key}.den"] = value.num, value.den
            if value.overflow:
                overflow[key] = {
                    str(i): f"{v.numerator}/{v.denominator}" for i, v in value.overflow.items()
                }
        else:
            arrays[key] = value
    return arrays, overflow


def table_from_arrays(
    cls: type[Any], name: str, data: Any, overflow: dict[str, dict[str, str]]
) -> Any:
    """The table ``cls`` read back from what :func:`table_arrays` gave."""
    values: dict[str, Any] = {}
    for item in fields(cls):
        key = f"{name}.{item.name}"
        if item.type == "Rationals":
            exact = {int(i): Fraction(v) for i, v in overflow.get(key, {}).items()}
            values[item.name] = Rationals(data[f"{key}.num"], data[f"{key}.den"], exact)
        else:
            values[item.name] = data[key]
    return cls(**values)
