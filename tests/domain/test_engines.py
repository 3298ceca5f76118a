"""Every engine against the exact one, the fast engine's compact form, and the settlement properties.

Engines come from the registry (:data:`hitrack.domain.settlement.ENGINES`):
an engine added there is tested here against the exact reference.
"""

from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitrack.domain import credit, fast
from hitrack.domain.credit import RevenueEvent
from hitrack.domain.errors import (
    ConsentRequired,
    CycleError,
    InvalidCitation,
    InvalidInput,
)
from hitrack.domain.graph import Work, add_citation, ancestry, build_graph, works_of
from hitrack.domain.interchange import load_document
from hitrack.domain.settlement import ENGINES, SettlementEngine, make_engine
from tests.factories import DESIGN_DOCUMENT, events_strategy, make_domain_record, works_strategy

OTHER_ENGINES = [name for name in ENGINES if name != "exact"]
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenario(draw):
    works = draw(works_strategy())
    return works, draw(events_strategy(works))


@pytest.mark.parametrize("name", OTHER_ENGINES)
def test_every_engine_explains_like_the_exact_engine(name):
    doc = load_document(DESIGN_DOCUMENT)
    engine = make_engine(name, doc.graph)
    for event in doc.events:
        assert engine.settle_event(event).explain("alice") == credit.settle_event(
            doc.graph, event
        ).explain("alice")


def test_every_engine_is_registered_and_has_the_engine_interface():
    G = build_graph([make_domain_record("r1")])
    assert {"exact", "fast"} <= set(ENGINES)
    for name in ENGINES:
        assert isinstance(make_engine(name, G), SettlementEngine)
    with pytest.raises(InvalidInput, match="unknown settlement engine 'abacus'"):
        make_engine("abacus", G)


def test_compact_graph_survives_save_and_load(tmp_path):
    doc = load_document(DESIGN_DOCUMENT)
    cg = fast.CompactGraph.from_graph(doc.graph)
    cg.save(tmp_path / "g.npz")
    loaded = fast.CompactGraph.load(tmp_path / "g.npz")
    assert works_of(loaded.to_graph()) == works_of(doc.graph)
    assert fast.settle_batch(loaded, doc.events) == fast.settle_batch(cg, doc.events)


def test_huge_rationals_are_kept_exact_in_the_compact_form(tmp_path):
    tiny = F(1, 3**50)
    G = build_graph(
        [
            make_domain_record("r1", "a"),
            Work("r2", "record", {"b": F(1, 3**45), "c": 1 - F(1, 3**45)}, {"r1": tiny}),
        ]
    )
    cg = fast.CompactGraph.from_graph(G)
    cg.save(tmp_path / "g.npz")
    cg = fast.CompactGraph.load(tmp_path / "g.npz")
    event = RevenueEvent("e", "r2", 3**60)
    assert fast.settle_event(cg, event).creators == credit.settle_event(G, event).creators
    assert works_of(cg.to_graph()) == works_of(G)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"edge_work": [0, 1], "edge_source": [1, 0]}, CycleError),
        ({"edge_work": [0], "edge_source": [0]}, InvalidCitation),
        ({"edge_work": [0, 0], "edge_source": [1, 1]}, InvalidCitation),
    ],
)
def test_compact_graph_from_arrays_enforces_the_graph_rules(kwargs, error):
    count = len(kwargs["edge_work"])
    with pytest.raises(error):
        fast.CompactGraph.from_arrays(
            ids=["a", "b"],
            kinds=["record", "record"],
            creators=["x"],
            share_num=[1] * count,
            share_den=[4] * count,
            owner_work=[0, 1],
            owner_creator=[0, 0],
            own_num=[1, 1],
            own_den=[1, 1],
            **kwargs,
        )


@pytest.mark.parametrize("name", OTHER_ENGINES)
@given(case=scenario())
@PROPERTY
def test_every_engine_gives_the_exact_engines_micros(name, case):
    works, events = case
    G = build_graph(works)
    engine = make_engine(name, G)
    for event in events:
        exact, quick = credit.settle_event(G, event), engine.settle_event(event)
        assert (quick.creators, quick.recouped, quick.fee, quick.distributable) == (
            exact.creators,
            exact.recouped,
            exact.fee,
            exact.distributable,
        )
        assert dict(quick.entitlements) == exact.entitlements
    exact_batch, quick_batch = credit.settle_batch(G, events), engine.settle_batch(events)
    assert quick_batch.creators == exact_batch.creators
    assert quick_batch.recouped == exact_batch.recouped
    assert dict(quick_batch.entitlements) == exact_batch.entitlements


@given(scenario())
@PROPERTY
def test_every_event_conserves_money_and_rounds_within_one_micro(case):
    works, events = case
    G = build_graph(works)
    for event in events:
        s = credit.settle_event(G, event)
        assert sum(s.recouped.values()) + s.fee + sum(s.creators.values()) == event.amount
        assert all(v >= 0 for v in [*s.recouped.values(), s.fee, *s.creators.values()])
        assert sum(s.entitlements.values()) == s.distributable
        for creator, exact in s.entitlements.items():
            assert abs(s.creators.get(creator, 0) - exact) < 1
    b = credit.settle_batch(G, events)
    assert sum(b.recouped.values()) + b.fee + sum(b.creators.values()) == b.amount


@pytest.mark.parametrize("name", list(ENGINES))
@given(case=scenario(), rng=st.randoms(use_true_random=False))
@PROPERTY
def test_settlement_does_not_depend_on_input_order(name, case, rng):
    works, events = case
    shuffled = list(works)
    rng.shuffle(shuffled)
    one, two = make_engine(name, build_graph(works)), make_engine(name, build_graph(shuffled))
    for event in events:
        assert one.settle_event(event).creators == two.settle_event(event).creators
    reordered = list(reversed(events))
    assert one.settle_batch(events).creators == two.settle_batch(reordered).creators


@given(scenario())
@PROPERTY
def test_a_creator_with_no_path_to_the_event_gets_nothing(case):
    works, events = case
    G = build_graph(works)
    for event in events:
        reachable = {c for w in ancestry(G, event.work) for c in G.nodes[w]["owners"]}
        assert set(credit.settle_event(G, event).creators) <= reachable


@given(scenario(), st.data())
@PROPERTY
def test_adding_a_citation_never_changes_events_that_cannot_reach_the_citing_work(case, data):
    works, events = case
    G = build_graph(works)
    ids = sorted(G)
    work, source = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
    share = data.draw(st.sampled_from([F(1, 10), F(1, 3)]))
    before = {e.id: credit.settle_event(G, e).creators for e in events}
    try:
        add_citation(G, work, source, share)
    except (InvalidCitation, ConsentRequired, CycleError):
        return
    for event in events:
        if work not in ancestry(G, event.work):
            assert credit.settle_event(G, event).creators == before[event.id]


def test_many_co_owners_with_equal_shares_tie_and_are_ordered_by_id(engine):
    # 1 micro among three owners of 1/3 each: only "a" gets it, exactly as allocate rules.
    G = build_graph([Work("r", "record", {"c": F(1, 3), "a": F(1, 3), "b": F(1, 3)})])
    event = RevenueEvent("e", "r", 1)
    assert engine(G).settle_event(event).creators == {"a": 1}
    assert engine(G).settle_batch([event]).creators == {"a": 1}


def test_many_creators_entitlements_are_exact_with_huge_shares_and_a_blended_model():
    """Past a handful of creators the fast engine propagates the exact value forward
    (GMP rationals): the same rationals as the exact engine, huge denominators and an
    attribution-blended model event included."""
    tiny = F(1, 3**50)
    records = [make_domain_record(f"r{i:02}", f"c{i:02}") for i in range(40)]
    remixes = [
        Work(
            f"x{i:02}",
            "record",
            {f"c{i:02}": F(1, 3), f"d{i:02}": F(2, 3)},
            {f"r{i:02}": F(1, 7), f"r{(i + 1) % 40:02}": tiny if i == 0 else F(2, 9)},
        )
        for i in range(20)
    ]
    model = Work(
        "m",
        "model",
        {"op": F(1)},
        {w.id: F(1, 100) for w in records[20:] + remixes},
        attribution_weight=F(1, 3),
        consent_ai_training=True,
    )
    works = [
        Work(w.id, w.kind, w.owners, w.sources, consent_ai_training=True) for w in records + remixes
    ] + [model]
    G = build_graph(works)
    cg = fast.CompactGraph.from_graph(G)
    events = [
        RevenueEvent("plain", "m", 10**12 + 7, fee_rate=F(1, 10)),
        RevenueEvent("blend", "m", 3**40, attribution={"x00": F(2), "r25": F(1)}),
    ]
    for event in events:
        quick, exact = fast.settle_event(cg, event), credit.settle_event(G, event)
        quick.entitlements.fill_all()
        assert len(exact.entitlements) > 40
        assert dict(quick.entitlements) == exact.entitlements
        assert quick.creators == exact.creators
