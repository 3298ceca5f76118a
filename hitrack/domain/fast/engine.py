"""The fast engine as a :class:`~hitrack.domain.settlement.SettlementEngine`."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from hitrack.domain.fast.batch import settle_batch
from hitrack.domain.fast.compact import CompactGraph
from hitrack.domain.fast.event import settle_event
from hitrack.domain.settlement import BatchSettlement, EventSettlement, RevenueEvent

__all__ = ["FastEngine"]


class FastEngine:
    """The fast engine over one compact graph.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1, 2), "b": Fraction(1, 2)})])
    >>> FastEngine.from_graph(G).settle_event(RevenueEvent("e1", "r1", 3)).creators
    {'a': 2, 'b': 1}
    """

    def __init__(self, graph: CompactGraph) -> None:
        self.graph = graph

    @classmethod
    def from_graph(cls, G: nx.DiGraph) -> FastEngine:
        """The fast engine over ``G`` compacted (a graph built by ``build_graph``)."""
        return cls(CompactGraph.from_graph(G))

    def settle_event(self, event: RevenueEvent) -> EventSettlement:
        return settle_event(self.graph, event)

    def settle_batch(self, events: Iterable[RevenueEvent]) -> BatchSettlement:
        return settle_batch(self.graph, events)
