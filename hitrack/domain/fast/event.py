"""Settling one event on the compact graph: only its ancestry is touched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

import numpy as np

from hitrack.domain.credit import explain
from hitrack.domain.fast.arrays import LD, UNIT, gather_rows, to_longdouble
from hitrack.domain.fast.compact import CompactGraph
from hitrack.domain.fast.exact import Injection
from hitrack.domain.fast.layout import INJECT_ROUNDINGS
from hitrack.domain.fast.propagation import propagate_ancestry
from hitrack.domain.fast.rounding import finish
from hitrack.domain.graph import KINDS
from hitrack.domain.settlement import (
    EventSettlement,
    Explanation,
    RevenueEvent,
    blended_shares,
    prepare_event,
)

__all__ = ["settle_event", "CompactEvents", "blend_of"]


class CompactEvents:
    """A compact graph as the shared event preparation sees it (an ``EventGraph``)."""

    def __init__(self, graph: CompactGraph) -> None:
        self.graph = graph

    def kind_of(self, work: str) -> str | None:
        index = self.graph.index_of(work)
        return None if index is None else KINDS[int(self.graph.works.kinds[index])]

    def manifest_of(self, work: str) -> Iterable[str]:
        return self.graph.manifest_of(self.graph.work_index[work])

    def owners_of(self, work: str) -> Mapping[str, Fraction]:
        return self.graph.owners_of(self.graph.work_index[work])


def blend_of(cg: CompactGraph, work: int, event: RevenueEvent) -> dict[int, Fraction] | None:
    """A model's blended shares for this event by source position, or None for its own shares."""
    if event.attribution is None:
        return None
    weight = cg.works.attribution_weight[work]
    if weight == 0:
        return None
    sources = cg.sources_of(work)
    position = {str(cg.ids[s]): s for s in sources}
    shares = {str(cg.ids[s]): share for s, share in sources.items()}
    blended = blended_shares(shares, weight, event.attribution)
    return {position[s]: share for s, share in blended.items()}


def settle_event(cg: CompactGraph, event: RevenueEvent) -> EventSettlement:
    """Settle one event over the arrays of ``cg``; same micros as the exact engine.

    Only the event's ancestry is touched: it is marked by a breadth-first walk,
    and its citations are propagated level by level.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> s = settle_event(CompactGraph.from_graph(G), RevenueEvent("e1", "p1", 1_000_000))
    >>> s.creators
    {'alice': 300000, 'dana': 700000}
    """
    prepared = prepare_event(CompactEvents(cg), event)
    start = cg.work_index[event.work]
    distributable = prepared.distributable

    def explainer(creator: str) -> list[Explanation]:
        sub = cg.to_graph(np.flatnonzero(cg.ancestry_mask(start)).tolist())
        return explain(sub, event, creator)

    if not distributable:
        return prepared.settlement({}, {}, explainer)
    nodes = np.flatnonzero(cg.ancestry_mask(start))
    blend = blend_of(cg, start, event)
    value = np.zeros(nodes.size, LD)
    kept_extra = LD(0)
    if blend is None:
        value[0] = distributable  # the event's work has the lowest level of its ancestry
        passing = nodes
    else:
        # The model passes this event's value along its blended shares; its
        # own retained part is paid from the event value directly.
        for source, share in blend.items():
            portion = distributable * share
            value[np.searchsorted(nodes, source)] += to_longdouble(
                portion.numerator, portion.denominator
            )
        kept_extra = LD(distributable)
        passing = nodes[1:]
    propagate_ancestry(cg, nodes, value, passing, int(cg.level[start]))
    payees = cg.payees
    entries = gather_rows(payees.ptr, nodes)
    per_work = payees.ptr[nodes + 1] - payees.ptr[nodes]
    reached = np.repeat(value, per_work)
    reached[: per_work[0]] += kept_extra
    amounts = payees.weight[entries] * reached
    entry_creator = payees.payee[entries]
    order = np.argsort(entry_creator, kind="stable")
    entry_creator, amounts = entry_creator[order], amounts[order]
    first = np.flatnonzero(np.r_[True, entry_creator[1:] != entry_creator[:-1]])
    creator_idx = entry_creator[first].astype(np.int64)
    estimate = np.add.reduceat(amounts, first)
    keep = estimate > 0
    creator_idx, estimate = creator_idx[keep], estimate[keep]
    injections: list[Injection] = [(start, distributable, blend)]
    bound = cg.bounds.payee[creator_idx] + INJECT_ROUNDINGS * UNIT
    live = np.zeros(cg.work_count, bool)
    live[nodes[value > 0]] = True
    live[start] = True
    creators, entitlements = finish(
        cg, distributable, creator_idx, estimate, bound, lambda _: injections, live
    )
    return prepared.settlement(creators, entitlements, explainer)
