"""The propagation layout and the error bounds of a compact graph, derived from its core arrays."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from hitrack.domain.fast.arrays import (
    _NODE_ROUNDINGS,
    I32,
    I64,
    LD,
    LDA,
    UNIT,
    _to_ld,
)

if TYPE_CHECKING:
    from hitrack.domain.fast.compact import CompactGraph


def derive(
    cls: type[CompactGraph], *, level: I64, big: dict[str, Fraction], **arrays: Any
) -> CompactGraph:
    """Compute the propagation layout and the error bounds from the core arrays."""
    n = len(arrays["ids"])
    indptr: I64 = arrays["indptr"]
    indices: I32 = arrays["indices"]
    levels = int(level.max()) + 1 if n else 0
    level_ptr = np.zeros(levels + 1, np.int64)
    np.cumsum(np.bincount(level, minlength=levels), out=level_ptr[1:])
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    edge_level = level[rows]
    t_order = np.lexsort((indices, edge_level))
    csr_to_t = np.empty(len(indices), np.int64)
    csr_to_t[t_order] = np.arange(len(indices))
    t_row = rows[t_order].astype(np.int32)
    t_target = indices[t_order].astype(np.int32)
    t_level = edge_level[t_order]
    share_ld = _fractions_ld(arrays["share_num"], arrays["share_den"], "s", big)
    t_share = share_ld[t_order]
    level_edge_ptr = np.searchsorted(t_level, np.arange(levels + 1)).astype(np.int64)
    new_segment = np.ones(len(indices), bool)
    if len(indices) > 1:
        new_segment[1:] = (t_target[1:] != t_target[:-1]) | (t_level[1:] != t_level[:-1])
    seg_start = np.flatnonzero(new_segment).astype(np.int64)
    seg_target = t_target[seg_start]
    level_seg_ptr = np.searchsorted(seg_start, level_edge_ptr).astype(np.int64)

    # Owners: weight = ownership * retained, by work and by creator.
    own_ptr: I64 = arrays["own_ptr"]
    own_work = np.repeat(np.arange(n, dtype=np.int64), np.diff(own_ptr))
    ret_ld = _fractions_ld(arrays["ret_num"], arrays["ret_den"], "r", big)
    own_ld = _fractions_ld(arrays["own_num"], arrays["own_den"], "o", big)
    own_weight = own_ld * ret_ld[own_work]
    creator_count = len(arrays["creators"])
    c_order = np.lexsort((own_work, arrays["own_creator"]))
    c_work = own_work[c_order].astype(np.int32)
    c_weight = own_weight[c_order]
    c_ptr = np.zeros(creator_count + 1, np.int64)
    np.cumsum(np.bincount(arrays["own_creator"], minlength=creator_count), out=c_ptr[1:])

    # Relative error bound of each work's value: the worst bound among its
    # citers, plus this work's own roundings. A value is summed from at most
    # (citers + levels) terms, each bounded by the worst-case sequential sum.
    citers = np.bincount(indices, minlength=n).astype(np.float64)
    rho = np.zeros(n, np.float64)
    node_term = (2 * citers + _NODE_ROUNDINGS) * UNIT
    for lv in range(levels):
        lo, hi = level_ptr[lv], level_ptr[lv + 1]
        rho[lo:hi] += node_term[lo:hi]
        e0, e1 = level_edge_ptr[lv], level_edge_ptr[lv + 1]
        if e1 > e0:
            s0, s1 = level_seg_ptr[lv], level_seg_ptr[lv + 1]
            worst = np.maximum.reduceat(rho[t_row[e0:e1]], seg_start[s0:s1] - e0)
            targets = seg_target[s0:s1]
            rho[targets] = np.maximum(rho[targets], worst)
    counts = np.diff(c_ptr)
    owning = np.flatnonzero(counts > 0)
    rho_creator = np.zeros(creator_count, np.float64)
    if owning.size:
        rho_creator[owning] = (
            np.maximum.reduceat(rho[c_work], c_ptr[owning])
            + (counts[owning] + _NODE_ROUNDINGS) * UNIT
        )
    # Citers of each work, for the exact recomputation's backward walk.
    by_source = np.argsort(indices, kind="stable")
    rev_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(indices, minlength=n), out=rev_ptr[1:])
    return cls(
        **arrays,
        rev_ptr=rev_ptr,
        rev_citing=rows[by_source].astype(np.int32),
        level_ptr=level_ptr,
        t_row=t_row,
        t_target=t_target,
        t_share=t_share,
        csr_to_t=csr_to_t,
        level_edge_ptr=level_edge_ptr,
        seg_start=seg_start,
        seg_target=seg_target.astype(np.int32),
        level_seg_ptr=level_seg_ptr,
        own_weight=own_weight,
        c_work=c_work,
        c_weight=c_weight,
        c_ptr=c_ptr,
        rho_node=rho,
        rho_creator=rho_creator,
        big=big,
    )


def _fractions_ld(num: I64, den: I64, tag: str, big: Mapping[str, Fraction]) -> LDA:
    safe = np.where(den == 0, 1, den)
    result: LDA = num.astype(LD) / safe.astype(LD)
    for i in np.flatnonzero(den == 0).tolist():
        value = big[f"{tag}:{i}"]
        result[i] = _to_ld(value.numerator, value.denominator)
    return result
