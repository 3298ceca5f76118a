"""Known answers worked by hand, checked on every registered engine (the ``engine`` fixture)."""

from fractions import Fraction as F

import pytest

from hitrack.domain.credit import RevenueEvent, credit_shares, render_explanation
from hitrack.domain.errors import InvalidEvent, UnknownWork
from hitrack.domain.graph import Work, build_graph
from hitrack.domain.interchange import load_document
from tests.factories import DESIGN_DOCUMENT, make_domain_record, make_domain_remix


def design():
    doc = load_document(DESIGN_DOCUMENT)
    return doc.graph, {e.id: e for e in doc.events}


def test_design_example_production_event_worked_by_hand(engine):
    # e1: amount 1.00, costs 0.10 -> recouped 100000 to dana; profit 900000,
    # fee floor(900000 * 0.1) = 90000; distributable 810000 enters p1.
    # p1 retains 1 - 0.3 - 0.6 = 0.1 -> dana 81000.
    # r2 receives 0.6 * 810000 = 486000, retains 0.6 -> 291600, bob and carol 145800 each,
    # and passes 0.4 * 486000 = 194400 to r1.
    # r1 receives 0.3 * 810000 + 194400 = 437400 -> alice.
    G, events = design()
    s = engine(G).settle_event(events["e1"])
    assert (s.recouped, s.fee, s.distributable) == ({"dana": 100000}, 90000, 810000)
    assert s.creators == {"alice": 437400, "bob": 145800, "carol": 145800, "dana": 81000}


def test_design_example_model_event_blends_attribution_and_breaks_ties_by_id(engine):
    # e2: 250000 enters m1 (lambda 1/2, manifest shares 1/4 + 1/4, S = 1/2,
    # attribution r1:3, r2:1). Blended r1 = 1/2*1/4 + 1/2*1/2*3/4 = 5/16,
    # r2 = 1/8 + 1/16 = 3/16; lab keeps 1/2 = 125000.
    # r2 gets 46875, keeps 0.6 = 28125 -> bob and carol 14062.5 each;
    # passes 18750 to r1, which also got 78125 -> alice 96875.
    # One micro is left: bob and carol tie on .5, bob wins by id.
    G, events = design()
    s = engine(G).settle_event(events["e2"])
    assert s.creators == {"alice": 96875, "bob": 14063, "carol": 14062, "lab": 125000}
    assert s.entitlements["bob"] == F(28125, 2)


def test_batch_rounds_once_on_the_total(engine):
    # The two design events as one batch: bob and carol are entitled to
    # 145800 + 14062.5 each; the single leftover micro goes to bob.
    G, events = design()
    b = engine(G).settle_batch(events.values())
    assert b.creators == {
        "alice": 534275,
        "bob": 159863,
        "carol": 159862,
        "dana": 81000,
        "lab": 125000,
    }
    assert (b.events, b.amount, b.fee, b.recouped, b.distributable) == (
        2,
        1250000,
        90000,
        {"dana": 100000},
        1060000,
    )


def test_credit_shares_is_one_unit_split_among_creators():
    G, _ = design()
    shares = credit_shares(G, "p1")
    assert shares == {"alice": F(27, 50), "bob": F(9, 50), "carol": F(9, 50), "dana": F(1, 10)}
    assert sum(shares.values()) == 1


def test_costs_above_the_amount_are_recouped_up_to_the_amount_only(engine):
    G = build_graph([make_domain_remix("r1", {"a": F(1, 3), "b": F(2, 3)}, {})])
    s = engine(G).settle_event(RevenueEvent("e", "r1", 10, costs=50))
    assert (s.recouped, s.fee, s.distributable, s.creators) == ({"a": 3, "b": 7}, 0, 0, {})


@pytest.mark.parametrize(
    ("event", "error", "match"),
    [
        (RevenueEvent("e9", "nope", 1), UnknownWork, "e9: unknown work nope"),
        (RevenueEvent("e9", "r1", -1), InvalidEvent, "e9: amount -1 is negative"),
        (RevenueEvent("e9", "r1", 1, costs=-2), InvalidEvent, "e9: costs -2"),
        (RevenueEvent("e9", "r1", 1, fee_rate=F(3, 2)), InvalidEvent, "e9: fee_rate 3/2"),
        (RevenueEvent("e9", "r1", 1, attribution={"r1": F(1)}), InvalidEvent, "only for models"),
        (
            RevenueEvent("e9", "m1", 1, attribution={"r2": F(1)}),
            InvalidEvent,
            "r2, which is not in the manifest",
        ),
        (
            RevenueEvent("e9", "m1", 1, attribution={"r1": F(-1)}),
            InvalidEvent,
            "score of r1 is negative",
        ),
        (RevenueEvent("e9", "m1", 1, attribution={"r1": F(0)}), InvalidEvent, "sums to 0"),
    ],
)
def test_invalid_events_are_rejected_naming_the_event(engine, event, error, match):
    G = build_graph(
        [
            make_domain_record("r1"),
            make_domain_record("r2"),
            Work("m1", "model", {"lab": F(1)}, {"r1": F(1, 2)}),
        ]
    )
    with pytest.raises(error, match=match):
        engine(G).settle_event(event)
    with pytest.raises(error, match=match):
        engine(G).settle_batch([RevenueEvent("e0", "r1", 1), event])


def night_swim():
    return build_graph(
        [
            make_domain_record("shore", "you", title="Shoreline"),
            make_domain_record("tide", "tom", {"shore": F(2, 5)}, title="Tide"),
            make_domain_remix(
                "swim",
                {"pam": F(1)},
                {"tide": F(3, 5), "shore": F(1, 10)},
                kind="production",
                title="Night Swim",
            ),
        ]
    )


def test_explanation_lists_each_path_with_its_exact_amount(engine):
    # 100.00 enters Night Swim. Shoreline is reached directly (10% -> 10.00)
    # and through Tide (60% then 40% -> 24.00): 34.00 in all, all retained.
    G = night_swim()
    s = engine(G).settle_event(RevenueEvent("e1", "swim", 100_000_000))
    [item] = s.explain("you")
    assert item.work == "shore" and item.amount == 34_000_000
    assert [r.amount for r in item.routes] == [24_000_000, 10_000_000]
    assert render_explanation(G, item) == [
        "Night Swim (production) earned 100.00; 60% of Night Swim’s value flows to Tide; "
        "40% of Tide’s value flows to your record Shoreline; you own all of it: 24.00 of this sale",
        "Night Swim (production) earned 100.00; 10% of Night Swim’s value flows to "
        "your record Shoreline; you own all of it: 10.00 of this sale",
    ]
    assert s.creators["you"] == 34_000_000


def test_explanation_of_the_events_own_work_has_an_empty_path(engine):
    G = night_swim()
    [item] = engine(G).settle_event(RevenueEvent("e1", "swim", 100)).explain("pam")
    assert item.path == () and item.amount == 30


def test_explanation_caps_listed_paths_and_counts_the_rest(engine):
    # A ladder of diamonds: 2**6 = 64 paths from the top to the bottom record.
    works = [make_domain_record("d0", "bottom")]
    for i in range(1, 7):
        works += [
            make_domain_record(f"a{i}", "x", {f"d{i - 1}": F(1, 2)}),
            make_domain_record(f"b{i}", "y", {f"d{i - 1}": F(1, 2)}),
            make_domain_record(f"d{i}", "z", {f"a{i}": F(1, 2), f"b{i}": F(1, 2)}),
        ]
    G = build_graph(works)
    [item] = engine(G).settle_event(RevenueEvent("e", "d6", 10**9)).explain("bottom")
    assert len(item.routes) == 20 and item.more_routes == 44
