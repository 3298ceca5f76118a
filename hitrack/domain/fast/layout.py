"""The propagation layout and the error bounds of a compact graph, derived from its validated core.

Value is propagated in extended precision and every quantity carries a
rigorous relative error bound, computed here once per graph from its
structure: every rounding is counted (share conversion, products, and
worst-case sequential sums). All quantities are non-negative, so there is no
cancellation: each creator's estimate ``E`` lies within ``bound * E`` of the
exact rational entitlement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitrack.domain.fast.arrays import UNIT
from hitrack.domain.fast.construction import Core
from hitrack.domain.fast.tables import (
    CitationTable,
    CreditTable,
    ErrorBounds,
    LevelLayout,
    PayeeTable,
    WorkTable,
)

__all__ = ["NODE_ROUNDINGS", "INJECT_ROUNDINGS", "SLACK", "Derived", "derive"]

# Per-work rounding budget on top of the summation terms: share conversion
# (up to ~10 units for huge rationals), the product, and the final addition.
NODE_ROUNDINGS = 16
# Rounding budget of an injected value (an exact integer or one converted rational).
INJECT_ROUNDINGS = 16
# Slack for the second-order terms the first-order bounds leave out.
SLACK = 1.01


@dataclass(frozen=True, eq=False)
class Derived:
    """Every table of a compact graph."""

    works: WorkTable
    citations: CitationTable
    payees: PayeeTable
    credits: CreditTable
    layout: LevelLayout
    bounds: ErrorBounds


def derive(core: Core) -> Derived:
    """The tables, propagation layout and error bounds of a validated core."""
    n = len(core.ids)
    level = core.level
    citation_ptr, sources = core.citation_ptr, core.citation_source
    levels = int(level.max()) + 1 if n else 0
    level_ptr = np.zeros(levels + 1, np.int64)
    np.cumsum(np.bincount(level, minlength=levels), out=level_ptr[1:])
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(citation_ptr))
    edge_level = level[rows]
    order = np.lexsort((sources, edge_level))
    position = np.empty(len(sources), np.int64)
    position[order] = np.arange(len(sources))
    citing = rows[order].astype(np.int32)
    target = sources[order].astype(np.int32)
    ordered_level = edge_level[order]
    share = core.shares.longdouble()[order]
    level_edge_ptr = np.searchsorted(ordered_level, np.arange(levels + 1)).astype(np.int64)
    new_segment = np.ones(len(sources), bool)
    if len(sources) > 1:
        new_segment[1:] = (target[1:] != target[:-1]) | (ordered_level[1:] != ordered_level[:-1])
    segment_start = np.flatnonzero(new_segment).astype(np.int64)
    segment_source = target[segment_start]
    level_segment_ptr = np.searchsorted(segment_start, level_edge_ptr).astype(np.int64)

    # Payees: weight = their part of the retained value * retained, by work and by payee.
    payee_ptr = core.payee_ptr
    payee_work = np.repeat(np.arange(n, dtype=np.int64), np.diff(payee_ptr))
    weight = core.payee_share.longdouble() * core.retained.longdouble()[payee_work]
    payee_count = len(core.creators)
    by_payee = np.lexsort((payee_work, core.payee))
    by_payee_work = payee_work[by_payee].astype(np.int32)
    by_payee_ptr = np.zeros(payee_count + 1, np.int64)
    np.cumsum(np.bincount(core.payee, minlength=payee_count), out=by_payee_ptr[1:])

    # Relative error bound of each work's value: the worst bound among its
    # citers, plus this work's own roundings. A value is summed from at most
    # (citers + levels) terms, each bounded by the worst-case sequential sum.
    citers = np.bincount(sources, minlength=n).astype(np.float64)
    work_bound = np.zeros(n, np.float64)
    own_term = (2 * citers + NODE_ROUNDINGS) * UNIT
    for lv in range(levels):
        lo, hi = level_ptr[lv], level_ptr[lv + 1]
        work_bound[lo:hi] += own_term[lo:hi]
        e0, e1 = level_edge_ptr[lv], level_edge_ptr[lv + 1]
        if e1 > e0:
            s0, s1 = level_segment_ptr[lv], level_segment_ptr[lv + 1]
            worst = np.maximum.reduceat(work_bound[citing[e0:e1]], segment_start[s0:s1] - e0)
            targets = segment_source[s0:s1]
            work_bound[targets] = np.maximum(work_bound[targets], worst)
    counts = np.diff(by_payee_ptr)
    paid = np.flatnonzero(counts > 0)
    payee_bound = np.zeros(payee_count, np.float64)
    if paid.size:
        payee_bound[paid] = (
            np.maximum.reduceat(work_bound[by_payee_work], by_payee_ptr[paid])
            + (counts[paid] + NODE_ROUNDINGS) * UNIT
        )
    # Citers of each work, for the exact recomputation's backward walk.
    by_source = np.argsort(sources, kind="stable")
    citer_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(sources, minlength=n), out=citer_ptr[1:])
    return Derived(
        works=WorkTable(
            ids=core.ids,
            kinds=core.kinds,
            titles=core.titles,
            consent_remix=core.consent_remix,
            consent_ai_training=core.consent_ai_training,
            level_ptr=level_ptr,
            retained=core.retained,
            attribution_weight=core.attribution_weight,
        ),
        citations=CitationTable(
            ptr=citation_ptr,
            source=sources,
            share=core.shares,
            citer_ptr=citer_ptr,
            citer=rows[by_source].astype(np.int32),
        ),
        payees=PayeeTable(
            ptr=payee_ptr,
            payee=core.payee,
            share=core.payee_share,
            weight=weight,
            by_payee_ptr=by_payee_ptr,
            by_payee_work=by_payee_work,
            by_payee_weight=weight[by_payee],
        ),
        credits=core.credits,
        layout=LevelLayout(
            citing=citing,
            source=target,
            share=share,
            position=position,
            level_ptr=level_edge_ptr,
            segment_start=segment_start,
            segment_source=segment_source.astype(np.int32),
            level_segment_ptr=level_segment_ptr,
        ),
        bounds=ErrorBounds(work=work_bound, payee=payee_bound),
    )
