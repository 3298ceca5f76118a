"""Settle an interchange document (or a graph and events) on Spark, in memory.

The document is validated by the domain (:func:`~hitrack.domain.interchange.load_document`)
before Spark starts, exported to a layout in a scratch folder, settled by one
:class:`~hitrack.spark.engine.SparkSettlement` job, and read back into the
exact engine's result types.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
    split_event,
)
from hitrack.domain.errors import InvalidEvent
from hitrack.spark.engine import DEFAULT_BLOCK_WORKS, DEFAULT_SCALE, JobReport, SparkSettlement
from hitrack.spark.layout import export_layout
from hitrack.spark.reader import ExactCallback, Settled, read_output

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


def settle_on_spark(
    G: nx.DiGraph,
    events: Sequence[RevenueEvent],
    *,
    batch: bool = False,
    each: bool | None = None,
    spark: SparkSession | None = None,
    master: str = "local[*]",
    currency: str = "USD",
    scale: int = DEFAULT_SCALE,
    block_works: int = DEFAULT_BLOCK_WORKS,
    tasks: int | None = None,
    workdir: str | None = None,
) -> SparkResult:
    """Settle validated ``events`` over ``G`` with one Spark job.

    ``batch=True`` settles them all as one batch, ``each=True`` each alone
    (the default unless ``batch``); both may be asked for at once. The graph
    and events must be validated already (the CLI loads them with
    :func:`~hitrack.domain.interchange.load_document`).
    """
    from hitrack.spark.session import spark_session

    each = not batch if each is None else each
    seen: set[str] = set()
    for event in events:
        if event.id in seen:
            raise InvalidEvent(f"duplicate event id {event.id}", ids=(event.id,))
        seen.add(event.id)
    # Layout ids by position, so the copies of an event in its own settlement
    # and in the batch can never collide with each other or with any id.
    copies: list[RevenueEvent] = []
    settlement: dict[str, str] = {}
    for i, event in enumerate(events):
        if each:
            copies.append(replace(event, id=f"e{i}"))
            settlement[f"e{i}"] = f"e{i}"
        if batch:
            copies.append(replace(event, id=f"b{i}"))
            settlement[f"b{i}"] = BATCH
    session = spark or spark_session(master)
    scratch = tempfile.mkdtemp(prefix="hitrack-spark-", dir=workdir)
    try:
        layout, output = f"{scratch}/layout", f"{scratch}/output"
        export_layout(
            layout, G, copies, currency=currency, settlement_of=lambda e: settlement[e.id]
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
    result = SparkResult(settled=settled, report=report)
    if batch:
        exact = _reference(G, list(events))
        found = settled.get(BATCH)
        result.batch = (
            found.batch_settlement(exact)
            if found is not None
            else BatchSettlement(0, 0, 0, {}, 0, {}, {})
        )
    if each:
        for i, event in enumerate(events):
            one = settled[f"e{i}"].event_settlement(_reference(G, [event]), _explainer(G, event))
            result.events[event.id] = replace(one, event_id=event.id)
    return result


def _reference(G: nx.DiGraph, events: list[RevenueEvent]) -> ExactCallback:
    """Exact entitlements from the graph, for creators the job left as intervals."""

    def exact(settlement: str, creators: list[str]) -> dict[str, Fraction]:
        totals = {c: Fraction(0) for c in creators}
        for event in events:
            distributable = split_event(event)[2]
            if not distributable:
                continue
            shares = credit_shares(G, event.work, event.attribution)
            for c in creators:
                totals[c] += distributable * shares.get(c, Fraction(0))
        return totals

    return exact


def _explainer(G: nx.DiGraph, event: RevenueEvent) -> Callable[[str], list[Explanation]]:
    def explainer(creator: str) -> list[Explanation]:
        return explain(G, event, creator)

    return explainer
