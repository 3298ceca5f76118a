"""Settlement on Apache Spark, with exactly the micros of the in-process engines.

For graphs beyond one machine (DESIGN sections 6 and 9). The job reads the
graph and events from a Parquet layout (:mod:`hitrack.spark.layout`),
propagates value along citations in fixed point with a proven error bound,
recomputes exactly the few creators whose rounding the bound cannot decide,
rounds each settlement with the DESIGN rule, and writes allocations as
Parquet (:mod:`hitrack.spark.engine`) that :mod:`hitrack.spark.reader` turns
back into :class:`~hitrack.domain.credit.EventSettlement` and
:class:`~hitrack.domain.credit.BatchSettlement`. ``hitrack settle --engine
spark`` (:mod:`hitrack.spark.settle`) does all of it for an interchange
document. This package imports PySpark; :mod:`hitrack.domain` never does.

The scheme: blocks, so that depth is not cost
-----------------------------------------------
A level-by-level join costs one Spark stage per graph level, and remix graphs
are deep (13,337 levels at 100k works, measured). Instead:

1. **Blocks.** Every work has a *height* (longest citation path down to a
   work without sources); value flows from higher to lower heights. The
   heights are cut into ``B`` contiguous ranges of about ``block_works``
   works each, highest first: value only flows from a block to later blocks.
2. **Tasks.** Inside a block, works joined by the block's own citations form
   pieces (a union-find per block, all blocks in one stage), packed onto
   ``T`` tasks. A citation between two tasks always crosses blocks.
3. **Propagation.** For block ``b = 0 .. B-1``: the values entering it (the
   events' injections and the flows written by earlier blocks) are cogrouped
   with the block's structure by task, and a Python kernel
   (:func:`~hitrack.spark.kernels.forward`) walks the task's works from the
   highest height down, each once per settlement with its whole value,
   paying its payees and passing shares to its sources: inside the block
   directly, to later blocks as flow rows. So the number of stages is a small
   constant per block, ``O(B)``, whatever the depth; depth inside a block is
   a loop on an executor, not a stage.
4. **Rounding.** Each settlement (one event, or a period's batch) is rounded
   on intervals (:func:`~hitrack.spark.kernels.decide`); the creators it
   cannot decide are recomputed exactly by a backward pass over the same
   blocks in reverse order (:func:`~hitrack.spark.kernels.backward`:
   ``Fraction`` shares of the chosen creators only), and the settlement is
   decided again. Most jobs need no such round; each round costs ``B`` block
   steps over rational numbers for those few creators.

Exactness
---------
Values are integers of ulps, ``10**-s`` micros (``DECIMAL(38, s)`` in
Parquet, ``s = 18`` by default). Every product is floored and carries an
integer bound: ``part = floor(v * n / d)`` and ``err' = ceil(err * n / d) + (1
if the division left a remainder else 0)``. By induction over the heights,
each work's exact value lies in ``[v, v + err]``, and each creator's exact
entitlement in ``[E, E + err_c]`` (the sums of its parts and their bounds):
all quantities are non-negative, so nothing cancels, and the bound is exact
integer arithmetic, not an estimate. Because each work is visited once with
all its value, the values and bounds do not depend on the blocks or tasks.
A floor is decided when ``E`` and ``E + err_c`` share it. The largest-remainder
cut-off is decided when no inexact interval straddles it (the proof is in
:func:`~hitrack.spark.kernels.decide`); ties between exact values go by
creator id in string order, as in :func:`hitrack.domain.money.allocate`.
Otherwise the exact value is computed. The micros are therefore always
``allocate(distributable, exact entitlements)``: the exact engine's.

Cost (``W`` works, ``E`` citations, ``P`` payee rows, ``N`` events, ``B``
blocks, ``T`` tasks per block; ``benchmarks/SCALE.md`` has measured figures)
--------------------------------------------------------------------------------
* Plan: a few scans and shuffles of ``W + E + P`` rows, once per job.
* Events: one parallel pass over ``N`` events (fees, recoups by
  ``allocate``); injections are summed per (settlement, work), so a batch
  enters the graph at most once per work.
* Propagation: every citation is read once per block step of its block and
  multiplied once per settlement whose value reaches it (once in a batch);
  the shuffle per step is the block's structure plus the flows into it
  (at most one row per settlement and cross-block citation target). About
  three stages per block: ``3B`` in all, for any depth.
* Critical path: the sum over blocks of the largest task's work. A block's
  largest piece is one task, so ``block_works`` trades stages (fewer, larger
  blocks) against parallelism (more, smaller pieces).
* Rounding: one task per settlement holds its creators (a period's batch with
  ``C`` creators needs ``O(C)`` memory in one task).
"""

from __future__ import annotations

__all__ = ["SparkSettlement", "export_layout", "read_output", "settle_on_spark"]


def __getattr__(name: str) -> object:
    # Lazy: importing hitrack.spark must not import PySpark or pandas.
    if name == "SparkSettlement":
        from hitrack.spark.engine import SparkSettlement

        return SparkSettlement
    if name == "export_layout":
        from hitrack.spark.layout import export_layout

        return export_layout
    if name == "read_output":
        from hitrack.spark.reader import read_output

        return read_output
    if name == "settle_on_spark":
        from hitrack.spark.settle import settle_on_spark

        return settle_on_spark
    raise AttributeError(name)
