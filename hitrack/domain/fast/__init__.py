"""The fast settlement engine: the same micros as :mod:`hitrack.domain.credit`, on arrays.

A :class:`CompactGraph` holds the contribution graph as flat numpy arrays:
works are numbered in a topological order grouped by *level* (a work's level
is one more than the highest level among the works citing it), so value only
ever flows from lower to higher indices, and one level never feeds itself.
Citations are kept twice: by citing work (CSR, for ancestry walks) and by
(citing level, source), so that one level's whole propagation is a gather, a
multiply and a segmented sum (``np.add.reduceat``). Each work's retained value
is paid to its payees, stored as computed by
:func:`hitrack.domain.payees.payee_shares` (its owners, and its credits through
its credit pool); "creators" below are those payees, unclaimed credits'
escrows (``credit:<id>``) included. Recouped costs go to the owners alone.

Value is propagated in extended precision (``np.longdouble``) and every
quantity carries a rigorous relative error bound, computed once per graph
from its structure (every rounding is counted: share conversion, products,
and worst-case sequential sums). Because all quantities are non-negative
there is no cancellation, so each creator's estimate ``E`` lies within
``bound * E`` of the exact rational entitlement. Rounding (DESIGN section 3,
step 6) is then decided on intervals: a creator whose floor, or whose place
around the largest-remainder cut-off, the interval cannot settle has its
entitlement recomputed exactly (:func:`exact_entitlements`, in rational
arithmetic over only the works that can reach that creator). In a batch, a
creator paid only by works that nothing flows into is settled from integers
directly (such a work's value is exactly what was injected), which spares the
recomputation the exact whole and half micros intervals can never settle. The
micros are therefore always those of the exact engine; only the time differs.

The package, one module per seam:

* :mod:`~hitrack.domain.fast.arrays` — exact rational columns, extended precision, CSR gathers;
* :mod:`~hitrack.domain.fast.tables` — the named parts of a compact graph;
* :mod:`~hitrack.domain.fast.construction` — building and validating from networkx or arrays;
* :mod:`~hitrack.domain.fast.layout` — the propagation layout and the error bounds;
* :mod:`~hitrack.domain.fast.compact` — :class:`CompactGraph`: lookups, walks, storage;
* :mod:`~hitrack.domain.fast.propagation` — value along citations, level by level;
* :mod:`~hitrack.domain.fast.rounding` — largest remainder decided on intervals;
* :mod:`~hitrack.domain.fast.exact` — exact recomputation of a few creators;
* :mod:`~hitrack.domain.fast.event` — one event over its ancestry;
* :mod:`~hitrack.domain.fast.batch` — a batch over the whole graph, events as columns;
* :mod:`~hitrack.domain.fast.engine` — :class:`FastEngine`, the engine interface.
"""

from __future__ import annotations

from hitrack.domain.fast.arrays import Rationals
from hitrack.domain.fast.batch import settle_batch, settle_batch_arrays
from hitrack.domain.fast.compact import CompactGraph
from hitrack.domain.fast.construction import Overflow
from hitrack.domain.fast.engine import FastEngine
from hitrack.domain.fast.event import settle_event
from hitrack.domain.fast.exact import exact_entitlements

__all__ = [
    "CompactGraph",
    "FastEngine",
    "Overflow",
    "Rationals",
    "settle_event",
    "settle_batch",
    "settle_batch_arrays",
    "exact_entitlements",
]
