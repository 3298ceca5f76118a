"""Domain test fixtures: every registered settlement engine in turn."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest

from hitrack.domain.settlement import ENGINES, SettlementEngine, make_engine


@pytest.fixture(params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Callable[[nx.DiGraph], SettlementEngine]:
    """Builds the engine under test over a graph; a test using it runs once per engine."""
    name: str = request.param
    return lambda G: make_engine(name, G)
