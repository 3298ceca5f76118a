"""Batch settlement on the compact graph: the column path, its fallbacks and its shortcuts.

Every test compares with the exact engine (:mod:`hitrack.domain.credit`):
the fast batch must give the same micros, recoups and fees, whichever path
(columns, event by event, exact shortcut, intervals, exact recomputation)
decides them.
"""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitrack.domain import credit, fast
from hitrack.domain.credit import RevenueEvent
from hitrack.domain.errors import InvalidEvent, InvalidInput, UnknownWork
from hitrack.domain.graph import Work, build_graph
from tests.factories import events_strategy, make_domain_record, works_strategy

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same_batch(G, cg, events):
    exact, quick = credit.settle_batch(G, events), fast.settle_batch(cg, events)
    assert quick.creators == exact.creators
    assert quick.recouped == exact.recouped
    assert (quick.events, quick.amount, quick.fee, quick.distributable) == (
        exact.events,
        exact.amount,
        exact.fee,
        exact.distributable,
    )
    assert dict(quick.entitlements) == exact.entitlements
    return quick


@st.composite
def big_batch(draw):
    """Small graphs (with or without credits), many events: rounding ties and the cut-off are common."""
    works = draw(works_strategy(max_works=8, credits=draw(st.booleans())))
    events = []
    for chunk in range(draw(st.integers(1, 6))):
        for event in draw(events_strategy(works, max_events=8)):
            events.append(
                RevenueEvent(
                    f"{event.id}-{chunk}",
                    event.work,
                    event.amount,
                    event.costs,
                    event.fee_rate,
                    event.attribution,
                )
            )
    return works, events


@given(big_batch())
@PROPERTY
def test_large_batches_give_the_exact_engines_micros(case):
    works, events = case
    G = build_graph(works)
    same_batch(G, fast.CompactGraph.from_graph(G), events)


@given(big_batch())
@PROPERTY
def test_batch_of_columns_matches_the_batch_of_events(case):
    works, events = case
    plain = [e for e in events if e.attribution is None]
    G = build_graph(works)
    cg = fast.CompactGraph.from_graph(G)
    columns = fast.settle_batch_arrays(
        cg,
        [e.work for e in plain],
        np.array([e.amount for e in plain], np.int64),
        np.array([e.costs for e in plain], np.int64),
        np.array([e.fee_rate.numerator for e in plain], np.int64),
        np.array([e.fee_rate.denominator for e in plain], np.int64),
    )
    exact = credit.settle_batch(G, plain)
    assert columns.creators == exact.creators
    assert columns.recouped == exact.recouped
    assert (columns.amount, columns.fee, columns.distributable) == (
        exact.amount,
        exact.fee,
        exact.distributable,
    )


def test_ties_are_broken_by_creator_id_even_when_creators_arrive_unsorted():
    # "c10" < "c2" as strings: the exact rule gives the odd micro to c10.
    cg = fast.CompactGraph.from_arrays(
        ids=["a", "b"],
        kinds=["record", "record"],
        creators=["c2", "c10", "c1"],
        edge_work=np.array([], np.int64),
        edge_source=np.array([], np.int64),
        share_num=np.array([], np.int64),
        share_den=np.array([], np.int64),
        owner_work=[0, 0, 1],
        owner_creator=[0, 1, 2],
        own_num=[1, 1, 1],
        own_den=[2, 2, 1],
    )
    assert cg.creators.tolist() == ["c1", "c10", "c2"]
    G = cg.to_graph()
    events = [RevenueEvent("e1", "a", 1), RevenueEvent("e2", "a", 2, costs=1)]
    batch = same_batch(G, cg, events)
    assert batch.creators == {"c10": 1, "c2": 1}
    assert batch.recouped == {"c10": 1}
    assert fast.settle_event(cg, events[0]).creators == {"c10": 1}


def test_duplicate_creator_ids_are_rejected():
    with pytest.raises(InvalidInput, match="duplicate creator"):
        fast.CompactGraph.from_arrays(
            ids=["a"],
            kinds=["record"],
            creators=["x", "b", "x"],
            edge_work=np.array([], np.int64),
            edge_source=np.array([], np.int64),
            share_num=np.array([], np.int64),
            share_den=np.array([], np.int64),
            owner_work=[0],
            owner_creator=[0],
            own_num=[1],
            own_den=[1],
        )


def test_a_bad_event_anywhere_raises_the_exact_engines_error_for_the_first_one():
    G = build_graph([make_domain_record("r1"), make_domain_record("r2", "bob", {"r1": F(1, 2)})])
    cg = fast.CompactGraph.from_graph(G)
    good = [RevenueEvent(f"e{i}", "r2", 10 + i) for i in range(5)]
    cases = [
        [*good, RevenueEvent("bad", "r1", -1), RevenueEvent("e0", "r1", 1)],
        [*good, RevenueEvent("e0", "r1", 1), RevenueEvent("bad", "r1", -1)],
        [*good, RevenueEvent("bad", "zz", 1)],
        [*good, RevenueEvent("bad", "r1", True)],  # type: ignore[arg-type]
        [*good, RevenueEvent("bad", "r1", 1, fee_rate=F(3, 2))],
        [*good, RevenueEvent("", "r1", 1)],
        [*good, RevenueEvent("bad", "r1", 1, attribution={"r1": F(1)})],
    ]
    for events in cases:
        with pytest.raises((InvalidEvent, UnknownWork)) as expected:
            credit.settle_batch(G, events)
        with pytest.raises(type(expected.value)) as got:
            fast.settle_batch(cg, events)
        assert str(got.value) == str(expected.value)


def test_unusual_but_valid_batches_take_the_event_by_event_path():
    G = build_graph([make_domain_record("r1"), make_domain_record("r2", "bob", {"r1": F(1, 2)})])
    cg = fast.CompactGraph.from_graph(G)

    class Rate(F):
        pass

    events = [
        RevenueEvent("e1", "r2", 2**70, fee_rate=F(1, 3)),  # beyond int64
        RevenueEvent("e2", "r2", 7, fee_rate=Rate(1, 2)),
    ]
    with pytest.raises(InvalidInput, match="2\\*\\*62"):
        fast.settle_batch(cg, events)
    events[0] = RevenueEvent("e1", "r2", 2**40, fee_rate=F(1, 3))
    same_batch(G, cg, events)
    assert fast.settle_batch(cg, iter(events)) == fast.settle_batch(cg, events)  # any iterable
    same_batch(G, cg, [])


def test_exact_integer_arithmetic_at_the_edges_of_int64():
    third = F(1, 3**39)
    G = build_graph(
        [
            Work("r1", "record", {"a": third, "b": 1 - third}),
            Work("r2", "record", {"c": F(1, 3), "d": F(2, 3)}, {"r1": F(1, 7)}),
        ]
    )
    cg = fast.CompactGraph.from_graph(G)
    events = [
        # profit * fee numerator overflows int64: the fee is computed in Python integers.
        RevenueEvent("e1", "r2", 2**60, fee_rate=F(2**40 - 1, 2**40)),
        # a recoup split over a denominator near 2**62: allocated in Python integers.
        RevenueEvent("e2", "r1", 10**6, costs=999_999),
        RevenueEvent("e3", "r2", 10**6, costs=3, fee_rate=F(1, 3)),
        RevenueEvent("e4", "r1", 5),
    ]
    same_batch(G, cg, events)


def test_direct_earnings_are_settled_exactly_without_recomputation(monkeypatch):
    # Works nothing flows into pay exact whole or half micros: settled from
    # integers directly, the recomputation is never asked.
    G = build_graph(
        [
            Work("r1", "record", {"a": F(1, 2), "b": F(1, 2)}),
            Work("r2", "record", {"c": F(1)}),
            Work("r3", "record", {"a": F(1, 4), "d": F(3, 4)}),
        ]
    )
    cg = fast.CompactGraph.from_graph(G)
    events = [RevenueEvent(f"e{i}", f"r{1 + i % 3}", 1 + 2 * i) for i in range(30)]

    def refuse(*args, **kwargs):
        raise AssertionError("exact recomputation was not needed")

    monkeypatch.setattr(fast.rounding, "exact_entitlements", refuse)
    quick = fast.settle_batch(cg, events)
    monkeypatch.undo()
    exact = credit.settle_batch(G, events)
    assert quick.creators == exact.creators
    assert dict(quick.entitlements) == exact.entitlements


def test_batch_of_columns_checks_its_input():
    G = build_graph([make_domain_record("r1")])
    cg = fast.CompactGraph.from_graph(G)
    assert fast.settle_batch_arrays(cg, [], []).creators == {}
    with pytest.raises(UnknownWork):
        fast.settle_batch_arrays(cg, ["r1", "zz"], [1, 2])
    with pytest.raises(InvalidEvent, match="negative"):
        fast.settle_batch_arrays(cg, ["r1"], [-1])
    with pytest.raises(InvalidEvent, match="fee_rate"):
        fast.settle_batch_arrays(cg, ["r1"], [1], fee_num=[2], fee_den=[1])
    with pytest.raises(InvalidEvent, match="integers"):
        fast.settle_batch_arrays(cg, ["r1"], [1.5])
    assert fast.settle_batch_arrays(cg, np.array(["r1", "r1"]), [3, 4]).creators == {"alice": 7}


def test_direct_earnings_with_denominators_too_large_to_share_fall_back_exactly():
    G = build_graph(
        [
            Work("r1", "record", {"a": F(1, 3**38), "b": 1 - F(1, 3**38)}),
            Work("r2", "record", {"c": F(1, 2**61), "d": 1 - F(1, 2**61)}),
            Work("r3", "record", {"e": F(1, 2), "f": F(1, 2)}),
        ]
    )
    cg = fast.CompactGraph.from_graph(G)
    events = [RevenueEvent(f"e{i}", f"r{1 + i % 3}", 3**20 + i) for i in range(9)]
    same_batch(G, cg, events)
