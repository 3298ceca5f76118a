"""Settle an interchange document (or a graph and events) on Spark, in memory.

The document is validated by the domain (:func:`~hitrack.domain.interchange.load_document`)
before Spark starts, exported to a layout in a scratch folder, settled by one
:class:`~hitrack.spark.engine.SparkSettlement` job, and read back into the
exact engine's result types.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import networkx as nx

from hitrack.domain.credit import (
    BatchSettlement,
    EventSettlement,
    Explanation,
    RevenueEvent,
    credit_shares,
    explain,
)
from hitrack.domain.errors import InvalidEvent
from hitrack.spark.engine import DEFAULT_BLOCK_WORKS, DEFAULT_SCALE, JobReport, SparkSettlement
from hitrack.spark.layout import export_layout
from hitrack.spark.reader import Settled, read_output

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SparkResult", "settle_on_spark", "BATCH"]

BATCH = "batch"


@dataclass
class SparkResult:
    """The settlements of one job: per event, and the batch when asked for."""

    events: dict[str, EventSettlement] = field(default_factory=dict)
    batch: BatchSettlement | None = None
    settled: dict[str, Settled] = field(default_factory=dict)
    report: JobReport | None = None


def _reference(G: nx.DiGraph, events: Sequence[RevenueEvent]):  # type: ignore[no-untyped-def]
    """Exact entitlements from the graph, for creators the job left as intervals."""
    by_settlement: dict[str, list[RevenueEvent]] = {}

    def exact(settlement: str, creators: list[str]) -> dict[str, Fraction]:
        chosen = by_settlement[settlement]
        totals = {c: Fraction(0) for c in creators}
        from hitrack.domain.credit import split_event

        for event in chosen:
            distributable = split_event(event)[2]
            if not distributable:
                continue
            shares = credit_shares(G, event.work, event.attribution)
            for c in creators:
                totals[c] += distributable * shares.get(c, Fraction(0))
        return totals

    return by_settlement, exact


def settle_on_spark(
    G: nx.DiGraph,
    events: Sequence[RevenueEvent],
    *,
    batch: bool = False,
    spark: SparkSession | None = None,
    master: str = "local[*]",
    currency: str = "USD",
    scale: int = DEFAULT_SCALE,
    block_works: int = DEFAULT_BLOCK_WORKS,
    tasks: int | None = None,
    workdir: str | None = None,
) -> SparkResult:
    """Settle validated ``events`` over ``G`` with one Spark job.

    ``batch=True`` settles them all as one batch; otherwise each alone. The
    graph and events must be validated already (the CLI loads them with
    :func:`~hitrack.domain.interchange.load_document`).
    """
    from hitrack.spark.session import spark_session

    seen: set[str] = set()
    for event in events:
        if event.id in seen:
            raise InvalidEvent(f"duplicate event id {event.id}", ids=(event.id,))
        seen.add(event.id)
    session = spark or spark_session(master)
    scratch = tempfile.mkdtemp(prefix="hitrack-spark-", dir=workdir)
    try:
        layout, output = f"{scratch}/layout", f"{scratch}/output"
        export_layout(
            layout,
            G,
            events,
            currency=currency,
            settlement_of=(lambda event: BATCH) if batch else None,
        )
        job = SparkSettlement(
            session,
            layout,
            output,
            scale=scale,
            block_works=block_works,
            tasks=tasks,
            validate=False,
        )
        report = job.run()
        settled = read_output(output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    groups, exact = _reference(G, events)
    result = SparkResult(settled=settled, report=report)
    if batch:
        groups[BATCH] = list(events)
        found = settled.get(BATCH)
        if found is None:
            result.batch = BatchSettlement(0, 0, 0, {}, 0, {}, {})
        else:
            result.batch = found.batch_settlement(exact)
        return result
    for event in events:
        groups[event.id] = [event]
        result.events[event.id] = settled[event.id].event_settlement(
            exact, _explainer(G, event)
        )
    return result


def _explainer(G: nx.DiGraph, event: RevenueEvent):  # type: ignore[no-untyped-def]
    def explainer(creator: str) -> list[Explanation]:
        return explain(G, event, creator)

    return explainer
