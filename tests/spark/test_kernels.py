"""The block kernels alone (no Spark): rounding on intervals, and the error bounds."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from hitrack.domain import credit
from hitrack.domain.graph import build_graph
from hitrack.domain.money import allocate
from hitrack.spark import kernels
from tests.factories import events_strategy, works_strategy


@st.composite
def entitlements(draw: st.DrawFn) -> tuple[int, dict[str, Fraction]]:
    count = draw(st.integers(1, 12))
    names = [f"c{i}" for i in draw(st.permutations(range(count)))]
    values = {
        n: Fraction(draw(st.integers(0, 60)), draw(st.sampled_from([1, 2, 3, 4, 7, 10, 2**70])))
        for n in names
    }
    if draw(st.booleans()):  # many exact ties
        values = {n: Fraction(draw(st.sampled_from([1, 3])), 2) for n in names}
    total = sum(values.values(), Fraction(0))
    values[names[0]] += (-total) % 1
    return int(sum(values.values(), Fraction(0))), values


@given(entitlements(), st.sampled_from([0, 1, 3, 18]), st.data())
@settings(max_examples=300, deadline=None)
def test_rounding_on_intervals_is_allocate_once_the_needed_values_are_known(case, scale, data):
    total, values = case
    unit = 10**scale
    candidates = {}
    for name, value in values.items():
        exact_ulps = value * unit
        slack = data.draw(st.integers(0, 3))
        low = max(exact_ulps.numerator // exact_ulps.denominator - slack, 0)
        err = exact_ulps - low
        err_ulps = -((-err.numerator) // err.denominator) + data.draw(st.integers(0, 2))
        candidates[name] = kernels.Candidate(name, low, err_ulps)
    asked = 0
    while True:
        micros, needed = kernels.decide(total, list(candidates.values()), scale)
        if micros is not None:
            break
        assert needed and all(candidates[n].exact is None for n in needed)
        asked += 1
        for name in needed:
            candidates[name] = kernels.Candidate(name, 0, 0, values[name])
    assert micros == allocate(total, values)


def test_exactly_known_ties_at_the_cut_off_go_by_creator_id():
    half = 5 * 10**17
    candidates = [kernels.Candidate(c, 10**18 + half, 0) for c in ("carol", "bob", "alice")]
    micros, needed = kernels.decide(4, candidates, 18)
    assert needed == [] and micros == {"alice": 2, "bob": 1, "carol": 1}


def test_an_interval_across_a_whole_micro_asks_for_the_exact_value():
    micros, needed = kernels.decide(1, [kernels.Candidate("a", 10**18 - 1, 1)], 18)
    assert micros is None and needed == ["a"]


def _struct(G, works):
    rows = []
    for w in works:
        height = 0
        for _, s, d in G.out_edges(w, data=True):
            rows.append(
                (
                    0,
                    0,
                    "E",
                    w,
                    height,
                    s,
                    Decimal(d["share"].numerator),
                    Decimal(d["share"].denominator),
                    0,
                    0,
                )
            )
        for o, f in G.nodes[w]["owners"].items():
            rows.append(
                (0, 0, "P", w, height, o, Decimal(f.numerator), Decimal(f.denominator), None, None)
            )
    frame = pd.DataFrame(rows, columns=kernels.STRUCT_COLUMNS)
    return frame


@given(works_strategy(max_works=8), st.data(), st.sampled_from([0, 2, 18]))
@settings(max_examples=60, deadline=None)
def test_forward_kernel_bounds_hold_the_exact_entitlements(works, data, scale):
    G = build_graph(works)
    from hitrack.spark.layout import heights

    height = heights(G)
    struct = _struct(G, list(G))
    struct["height"] = [height[w] for w in struct["work"]]
    events = data.draw(events_strategy(works, max_events=1))
    event = events[0]
    distributable = credit.split_event(event)[2]
    inputs = pd.DataFrame(
        [
            (
                0,
                0,
                "s",
                "V",
                event.work,
                None,
                None,
                None,
                kernels.from_ulps(distributable * 10**scale, scale),
                0,
                None,
            )
        ],
        columns=kernels.FLOW_COLUMNS,
    )
    plain = credit.RevenueEvent(event.id, event.work, event.amount, event.costs, event.fee_rate)
    exact = credit.settle_event(G, plain).entitlements
    out = kernels.forward(struct, inputs, scale)
    owed = {}
    for payee, value, err in zip(out["other"], out["value"], out["err"], strict=True):
        low, bound = owed.get(payee, (0, 0))
        owed[payee] = (low + kernels.to_ulps(value, scale), bound + int(err))
    assert set(owed) == set(exact)
    for payee, (low, err) in owed.items():
        assert Fraction(low, 10**scale) <= exact[payee] <= Fraction(low + err, 10**scale)
