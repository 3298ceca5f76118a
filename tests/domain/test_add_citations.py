"""Citing many sources at once follows the same rules as citing them one by one."""

from __future__ import annotations

from fractions import Fraction

import pytest

from hitrack.domain.errors import ConsentRequired, CycleError, InvalidCitation
from hitrack.domain.graph import Work, add_citations, build_graph, retained_share


def _records(n: int, **consent: bool) -> list[Work]:
    return [Work(f"r{i}", "record", {f"c{i}": Fraction(1)}, **consent) for i in range(n)]


def test_a_model_cites_a_large_manifest_and_keeps_its_retained_share():
    works = [*_records(5000, consent_ai_training=True), Work("m1", "model", {"lab": Fraction(1)})]
    G = build_graph(works)
    add_citations(G, "m1", {f"r{i}": Fraction(1, 10_000) for i in range(5000)})
    assert G.out_degree("m1") == 5000
    assert retained_share(G, "m1") == Fraction(1, 2)


def test_the_citation_that_pushes_shares_above_one_is_named():
    G = build_graph([*_records(3), Work("p1", "production", {"p": Fraction(1)})])
    with pytest.raises(InvalidCitation, match=r"citing r2 with 1/2 would bring its shares to 5/4"):
        add_citations(G, "p1", {"r0": Fraction(1, 2), "r1": Fraction(1, 4), "r2": Fraction(1, 2)})


def test_consent_is_checked_for_each_source():
    G = build_graph([*_records(2), Work("m1", "model", {"lab": Fraction(1)})])
    with pytest.raises(ConsentRequired, match="model m1 cannot train on r0"):
        add_citations(G, "m1", {"r0": Fraction(1, 4)})


def test_a_work_that_is_already_cited_cannot_close_a_cycle():
    G = build_graph([*_records(2)])
    add_citations(G, "r1", {"r0": Fraction(1, 2)})
    with pytest.raises(CycleError, match="citation r0 -> r1 would close a cycle: r0 -> r1 -> r0"):
        add_citations(G, "r0", {"r1": Fraction(1, 2)})
