"""Propagation of value along citations, level by level, in extended precision."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from hitrack.domain.fast.arrays import (
    I32,
    I64,
    LD,
    LDA,
)
from hitrack.domain.fast.compact import CompactGraph


class _Products:
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


_CHUNK = 1 << 16


def _propagate_levels(
    cg: CompactGraph, value: LDA, first_level: int, fed: npt.NDArray[np.bool_] | None = None
) -> None:
    """Whole-graph propagation, one level at a time, in place.

    With ``fed``, also marks every work that received a positive part of a
    citing work's value (the works whose value is not just what was injected).
    """
    products = _Products()
    for lv in range(first_level, cg.level_count):
        e0, e1 = cg.level_edge_ptr[lv], cg.level_edge_ptr[lv + 1]
        if e1 == e0:
            continue
        s0, s1 = int(cg.level_seg_ptr[lv]), int(cg.level_seg_ptr[lv + 1])
        chunks = products.chunks(value, cg.t_row, cg.t_share, cg.seg_start[s0:s1], int(e1))
        for a, b, sums in chunks:
            # Sources sit at later levels than their citers: this level's rows
            # are not written, and each target appears once per level.
            targets = cg.seg_target[s0 + a : s0 + b]
            value[targets] += sums
            if fed is not None:
                fed[targets[sums > 0]] = True
