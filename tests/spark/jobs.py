"""Helpers: run one Spark job over many settlements and check them against the exact engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import networkx as nx

from hitrack.domain import credit
from hitrack.domain.credit import RevenueEvent
from hitrack.domain.graph import Work
from hitrack.spark.engine import SparkSettlement
from hitrack.spark.layout import export_layout
from hitrack.spark.reader import Settled, read_output


def run_job(
    spark: object,
    folder: Path,
    G: nx.DiGraph,
    settlements: Mapping[str, Sequence[RevenueEvent]],
    **options: object,
) -> tuple[dict[str, Settled], SparkSettlement]:
    """Export ``settlements`` (name -> events) over ``G``, settle them in one job, read them back."""
    of = {event.id: name for name, events in settlements.items() for event in events}
    events = [event for group in settlements.values() for event in group]
    layout, output = str(folder / "layout"), str(folder / "output")
    export_layout(layout, G, events, currency="USD", settlement_of=lambda e: of[e.id])
    options.setdefault("validate", False)
    job = SparkSettlement(spark, layout, output, **options)  # type: ignore[arg-type]
    job.run()
    return read_output(output), job


def both_ways(events: Sequence[RevenueEvent], tag: str = "") -> dict[str, list[RevenueEvent]]:
    """Each event alone, and all of them as one batch (event ids made unique per settlement)."""
    groups: dict[str, list[RevenueEvent]] = {}
    for event in events:
        groups[f"{tag}one:{event.id}"] = [replace(event, id=f"{tag}one:{event.id}")]
    groups[f"{tag}all"] = [replace(event, id=f"{tag}all:{event.id}") for event in events]
    return groups


def assert_exact(
    G: nx.DiGraph, settled: Mapping[str, Settled], settlements: Mapping[str, Sequence[RevenueEvent]]
) -> int:
    """Every settlement equals the exact engine's batch, micro for micro; returns how many were checked.

    Also checks each creator's interval holds the exact entitlement, and the
    values the job knows exactly are exact.
    """
    for name, events in settlements.items():
        exact = credit.settle_batch(G, events)
        got = settled.get(name)
        if got is None:
            assert exact.amount == 0 and not exact.creators and not exact.recouped, name
            continue
        assert (got.events, got.amount, got.fee, got.distributable) == (
            exact.events,
            exact.amount,
            exact.fee,
            exact.distributable,
        ), name
        assert got.creators == exact.creators, name
        assert got.recouped == exact.recouped, name
        assert set(got.entitlements) == set(exact.entitlements), name
        for creator, entitlement in got.entitlements.items():
            value = exact.entitlements[creator]
            assert entitlement.low <= value <= entitlement.high, (name, creator)
            if entitlement.known is not None:
                assert entitlement.known == value, (name, creator)
        if len(events) == 1:
            one = credit.settle_event(G, events[0])
            assert got.event_settlement().creators == one.creators
    return len(settlements)


def prefixed(
    works: Sequence[Work], events: Sequence[RevenueEvent], tag: str
) -> tuple[list[Work], list[RevenueEvent]]:
    """A scenario's works and events with ids prefixed, so scenarios can share one graph."""

    def name(work: str) -> str:
        return f"{tag}{work}"

    out_works = [
        replace(w, id=name(w.id), sources={name(s): f for s, f in w.sources.items()}) for w in works
    ]
    out_events = [
        replace(
            e,
            id=name(e.id),
            work=name(e.work),
            attribution=None
            if e.attribution is None
            else {name(k): Fraction(v) for k, v in e.attribution.items()},
        )
        for e in events
    ]
    return out_works, out_events
