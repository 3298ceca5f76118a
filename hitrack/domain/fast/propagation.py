"""Propagation of value along citations, level by level, in extended precision.

Sources sit at later levels than the works citing them, so once a level has
passed its value on, nothing flows back into it: one pass over the levels
in order carries every value to the roots. Over the whole graph
(:func:`propagate_levels`, for batches) a level is a gather, a multiply and a
segmented sum over :class:`~hitrack.domain.fast.tables.LevelLayout`; over one
ancestry (:func:`propagate_ancestry`, for one event) the same is done on the
ancestry's citations only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from hitrack.domain.fast.arrays import I32, I64, LD, LDA, gather_rows
from hitrack.domain.fast.compact import CompactGraph

__all__ = ["Products", "propagate_levels", "propagate_ancestry"]

_CHUNK = 1 << 16


class Products:
    """Segmented sums of products ``weights[k] * source[index[k]]``, in chunks.

    Segments are runs of entries ``[starts[i], starts[i + 1])``. The work is
    cut into chunks of about ``_CHUNK`` entries at segment starts and done in
    two reused buffers: no temporary as long as the graph, which would cost
    fresh memory (page faults) and fall out of cache.
    """

    def __init__(self) -> None:
        self.products = np.empty(2 * _CHUNK, LD)
        self.sums = np.empty(2 * _CHUNK, LD)

    def chunks(
        self, source: LDA, index: I32, weights: LDA, starts: I64, stop: int
    ) -> Iterator[tuple[int, int, LDA]]:
        """``(a, b, sums of segments a..b-1)``, chunk after chunk (the last segment ends at ``stop``)."""
        if not starts.size:
            return
        cuts = np.searchsorted(starts, np.arange(int(starts[0]), stop, _CHUNK), "right") - 1
        bounds = [*np.unique(cuts).tolist(), starts.size]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            lo = int(starts[a])
            hi = int(starts[b]) if b < starts.size else stop
            big = hi - lo > self.products.size
            products = np.empty(hi - lo, LD) if big else self.products[: hi - lo]
            np.take(source, index[lo:hi], out=products, mode="clip")
            np.multiply(products, weights[lo:hi], out=products)
            sums = np.empty(b - a, LD) if big else self.sums[: b - a]
            np.add.reduceat(products, starts[a:b] - lo, out=sums)
            yield a, b, sums


def propagate_levels(
    cg: CompactGraph, value: LDA, first_level: int, fed: npt.NDArray[np.bool_] | None = None
) -> None:
    """Whole-graph propagation, one level at a time, in place.

    With ``fed``, also marks every work that received a positive part of a
    citing work's value (the works whose value is not just what was injected).
    """
    layout = cg.layout
    products = Products()
    for lv in range(first_level, cg.level_count):
        e0, e1 = layout.level_ptr[lv], layout.level_ptr[lv + 1]
        if e1 == e0:
            continue
        s0, s1 = int(layout.level_segment_ptr[lv]), int(layout.level_segment_ptr[lv + 1])
        chunks = products.chunks(
            value, layout.citing, layout.share, layout.segment_start[s0:s1], int(e1)
        )
        for a, b, sums in chunks:
            # Sources sit at later levels than their citers: this level's rows
            # are not written, and each target appears once per level.
            targets = layout.segment_source[s0 + a : s0 + b]
            value[targets] += sums
            if fed is not None:
                fed[targets[sums > 0]] = True


def propagate_ancestry(
    cg: CompactGraph, nodes: I64, value: LDA, passing: I64, first_level: int
) -> None:
    """Propagation over one ancestry, in place: ``value[i]`` is the value of ``nodes[i]``.

    ``nodes`` are the ancestry's works (sorted positions); only the citations
    of the works in ``passing`` carry value on. Everything is indexed within
    the ancestry (positions map back by binary search): nothing here costs
    time in the graph's size.
    """
    layout = cg.layout
    positions = np.sort(layout.position[gather_rows(cg.citations.ptr, passing)])
    if not positions.size:
        return
    targets = layout.source[positions]
    edge_level = np.searchsorted(layout.level_ptr, positions, "right") - 1
    starts_mask = np.ones(positions.size, bool)
    starts_mask[1:] = (targets[1:] != targets[:-1]) | (edge_level[1:] != edge_level[:-1])
    segment = np.flatnonzero(starts_mask)
    local_citing = np.searchsorted(nodes, layout.citing[positions])
    local_target = np.searchsorted(nodes, targets[segment])
    level_bounds = np.searchsorted(positions, layout.level_ptr)
    segment_bounds = np.searchsorted(segment, level_bounds)
    for lv in range(first_level, cg.level_count):
        lo, hi = level_bounds[lv], level_bounds[lv + 1]
        if lo == hi:
            continue
        contributions = layout.share[positions[lo:hi]] * value[local_citing[lo:hi]]
        s0, s1 = segment_bounds[lv], segment_bounds[lv + 1]
        value[local_target[s0:s1]] += np.add.reduceat(contributions, segment[s0:s1] - lo)
