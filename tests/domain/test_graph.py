from fractions import Fraction as F

import networkx as nx
import pytest

from hitrack.domain.errors import (
    ConsentRequired,
    CycleError,
    InvalidCitation,
    InvalidInput,
    InvalidShare,
    UnknownWork,
)
from hitrack.domain.graph import (
    Work,
    add_citation,
    ancestry,
    build_graph,
    retained_share,
    subgraph_for,
    works_of,
)
from tests.factories import make_domain_record, make_domain_remix


def small_graph() -> nx.DiGraph:
    return build_graph(
        [
            make_domain_record("r1", "alice"),
            make_domain_record("r2", "bob", {"r1": F(2, 5)}),
            make_domain_record("secret", "sam", consent_remix=False),
            make_domain_record("open", "olga", consent_ai_training=True),
            Work("m1", "model", {"lab": F(1)}, {"open": F(1, 4)}),
            make_domain_remix("p1", {"dana": F(1)}, {"r2": F(3, 5)}, kind="production"),
        ]
    )


def snapshot(G: nx.DiGraph) -> list:
    return sorted((u, v, d["share"]) for u, v, d in G.edges(data=True))


@pytest.mark.parametrize(
    ("works", "error", "ids"),
    [
        ([make_domain_record("r1", sources={"zz": F(1, 2)})], UnknownWork, "zz"),
        ([make_domain_record("r1", sources={"r1": F(1, 2)})], InvalidCitation, "r1"),
        (
            [make_domain_record("r1"), make_domain_record("r2", sources={"r1": F(0)})],
            InvalidShare,
            "r2 -> r1",
        ),
        (
            [make_domain_record("r1"), make_domain_record("r2", sources={"r1": F(3, 2)})],
            InvalidShare,
            "r2 -> r1",
        ),
        (
            [
                make_domain_record("a"),
                make_domain_record("b"),
                make_domain_record("c", sources={"a": F(2, 3), "b": F(1, 2)}),
            ],
            InvalidCitation,
            "work c",
        ),
        ([Work("r1", "record", {})], InvalidShare, "r1"),
        ([Work("r1", "record", {"a": F(1, 2), "b": F(1, 3)})], InvalidShare, "r1"),
        ([Work("r1", "record", {"a": F(3, 2), "b": F(-1, 2)})], InvalidShare, "r1"),
        ([Work("r1", "song", {"a": F(1)})], InvalidInput, "r1"),
        ([Work("m1", "model", {"a": F(1)}, attribution_weight=F(2))], InvalidShare, "m1"),
        (
            [make_domain_record("r1"), make_domain_record("r1")],
            InvalidInput,
            "duplicate work id r1",
        ),
        (
            [
                make_domain_record("a", sources={"b": F(1, 2)}),
                make_domain_record("b", sources={"a": F(1, 2)}),
            ],
            CycleError,
            "a -> b -> a|b -> a -> b",
        ),
    ],
)
def test_invalid_graphs_are_rejected_naming_the_offending_ids(works, error, ids):
    with pytest.raises(error, match=ids):
        build_graph(works)


def test_a_graph_keeps_shares_owners_and_consent_on_nodes_and_edges():
    G = small_graph()
    assert G["r2"]["r1"]["share"] == F(2, 5)
    assert G.nodes["secret"]["consent_remix"] is False
    assert retained_share(G, "p1") == F(2, 5)
    assert ancestry(G, "p1") == {"p1", "r2", "r1"}
    assert sorted(subgraph_for(G, "r2")) == ["r1", "r2"]


def test_build_graph_does_not_check_consent_because_revocation_never_rewrites_the_past():
    G = build_graph(
        [
            make_domain_record("r1", consent_ai_training=False),
            Work("m1", "model", {"lab": F(1)}, {"r1": F(1, 2)}),
        ]
    )
    assert G.has_edge("m1", "r1")


def test_works_round_trip_through_the_graph():
    works = works_of(small_graph())
    assert works_of(build_graph(works)) == works
    assert [w.id for w in works] == sorted(w.id for w in works)


@pytest.mark.parametrize(
    ("work", "source", "share", "error", "match"),
    [
        ("p1", "nope", F(1, 10), UnknownWork, "nope"),
        ("p1", "p1", F(1, 10), InvalidCitation, "p1 cannot cite itself"),
        ("p1", "r1", F(0), InvalidShare, "p1 -> r1"),
        ("p1", "r2", F(1, 10), InvalidCitation, "p1 already cites r2"),
        ("p1", "r1", F(1, 2), InvalidCitation, "p1: citing r1"),
        ("p1", "secret", F(1, 10), ConsentRequired, "p1 cannot cite secret"),
        ("m1", "r1", F(1, 10), ConsentRequired, "m1 cannot train on r1"),
        ("m1", "p1", F(1, 10), InvalidCitation, "m1 can only train on records"),
        ("r1", "p1", F(1, 10), CycleError, "r1 -> p1 would close a cycle"),
    ],
)
def test_rejected_citations_name_ids_and_leave_the_graph_unchanged(
    work, source, share, error, match
):
    G = small_graph()
    before = snapshot(G)
    with pytest.raises(error, match=match):
        add_citation(G, work, source, share)
    assert snapshot(G) == before


def test_a_valid_citation_is_added():
    G = small_graph()
    add_citation(G, "p1", "r1", F(1, 5))
    assert G["p1"]["r1"]["share"] == F(1, 5)
    assert retained_share(G, "p1") == F(1, 5)


def test_a_model_may_train_on_a_record_whose_owners_opted_in():
    G = build_graph(
        [make_domain_record("x", consent_ai_training=True), Work("m", "model", {"lab": F(1)})]
    )
    add_citation(G, "m", "x", F(1, 2))
    assert G.has_edge("m", "x")
