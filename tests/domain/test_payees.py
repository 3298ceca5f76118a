"""Credits and the credit pool: a work's retained value goes to its payees (DESIGN sections 1, 3, 5).

Known answers are worked by hand and checked on every registered engine (the
``engine`` fixture); the properties compare every engine with the exact one
on random graphs with credits.
"""

import copy
import json
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitrack.domain import credit, fast
from hitrack.domain.credit import RevenueEvent, explain, render_explanation
from hitrack.domain.errors import InvalidInput, InvalidShare
from hitrack.domain.graph import Work, build_graph, works_of
from hitrack.domain.interchange import (
    dump_document,
    load_document,
    loads_document,
    settlement_document,
)
from hitrack.domain.payees import Credit, check_credits, payee_parts, payee_shares, payees_of
from hitrack.domain.settlement import ENGINES, make_engine
from tests.factories import CREDITS_DOCUMENT, events_strategy, works_strategy

OTHER_ENGINES = [name for name in ENGINES if name != "exact"]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GINA = Credit("gina", "performer", F(3))
K7 = Credit("credit:k7", "sound mixer", F(1))


def film():
    doc = load_document(CREDITS_DOCUMENT)
    return doc.graph, {e.id: e for e in doc.events}


# -- the rule ------------------------------------------------------------------


def test_owners_keep_what_the_pool_leaves_and_credits_share_the_pool_by_weight():
    # pool 1/4: studio keeps 3/4; the credits' weights 3 and 1 split the 1/4
    # as 3/16 and 1/16.
    assert payee_shares({"studio": F(1)}, [GINA, K7], F(1, 4)) == {
        "credit:k7": F(1, 16),
        "gina": F(3, 16),
        "studio": F(3, 4),
    }


def test_the_same_persons_parts_add_up():
    # dana owns 1/2 and is credited with weight 1 of 2, pool 1/2:
    # dana 1/2 * 1/2 + 1/2 * 1/2 = 1/2, eve 1/2 * 1/2 = 1/4, fox 1/2 * 1/2 = 1/4.
    credits = [Credit("dana", "director", F(1)), Credit("fox", "writer", F(1))]
    owners = {"dana": F(1, 2), "eve": F(1, 2)}
    assert payee_shares(owners, credits, F(1, 2)) == {
        "dana": F(1, 2),
        "eve": F(1, 4),
        "fox": F(1, 4),
    }
    parts = [p for p in payee_parts(owners, credits, F(1, 2)) if p.payee == "dana"]
    assert [(p.role, p.share) for p in parts] == [(None, F(1, 4)), ("director", F(1, 4))]


def test_without_credits_or_pool_the_payees_are_the_owners():
    owners = {"b": F(2, 3), "a": F(1, 3)}
    assert payee_shares(owners, [], F(0)) == {"a": F(1, 3), "b": F(2, 3)}
    assert payee_shares(owners, [GINA], F(0)) == {"a": F(1, 3), "b": F(2, 3)}


def test_a_full_pool_pays_the_credits_only():
    assert payee_shares({"studio": F(1)}, [GINA, K7], F(1)) == {
        "credit:k7": F(1, 4),
        "gina": F(3, 4),
    }


# -- known answers on every engine ---------------------------------------------


def test_credits_are_paid_from_the_retained_value_worked_by_hand(engine):
    # e1 at r2: amount 1.00, costs 0.10 -> ann (owner of r2) recoups 100000;
    # profit 900000, fee 90000, distributable 810000.
    # r2 keeps 0.6 -> ann 486000; passes 0.4 -> 324000 to f1, which keeps all:
    # studio 3/4 -> 243000, gina 3/16 -> 60750, credit:k7 1/16 -> 20250.
    G, events = film()
    s = engine(G).settle_event(events["e1"])
    assert (s.recouped, s.fee, s.distributable) == ({"ann": 100000}, 90000, 810000)
    assert s.creators == {"ann": 486000, "credit:k7": 20250, "gina": 60750, "studio": 243000}


def test_credits_take_part_in_the_largest_remainder_rounding(engine):
    # e2: 7 micros enter f1: studio 7 * 3/4 = 5.25, gina 7 * 3/16 = 1.3125,
    # credit:k7 7/16 = 0.4375. Floors 5 + 1 + 0 = 6; the last micro goes to
    # the largest remainder, credit:k7's 0.4375.
    G, events = film()
    s = engine(G).settle_event(events["e2"])
    assert s.creators == {"credit:k7": 1, "gina": 1, "studio": 5}
    assert s.entitlements["gina"] == F(21, 16)


def test_batch_with_credits_rounds_once_on_the_total(engine):
    # Totals: ann 486000, studio 243000 + 5.25, gina 60750 + 1.3125,
    # credit:k7 20250 + 0.4375: floors leave one micro, to credit:k7 (0.4375).
    G, events = film()
    b = engine(G).settle_batch(events.values())
    assert b.creators == {"ann": 486000, "credit:k7": 20251, "gina": 60751, "studio": 243005}
    assert (b.amount, b.fee, b.recouped, b.distributable) == (
        1000007,
        90000,
        {"ann": 100000},
        810007,
    )


def test_recouped_costs_go_to_the_owners_only(engine):
    # f2: owners dana and eve 1/2 each, credits dana and fox, pool 1/2.
    # costs 10 of 1010 -> dana 5, eve 5 (fox recoups nothing); the 1000 left
    # pays dana 500 (owner 250 + credit 250), eve 250, fox 250.
    G = build_graph(
        [
            Work(
                "f2",
                "production",
                {"dana": F(1, 2), "eve": F(1, 2)},
                credits=(Credit("dana", "director", F(1)), Credit("fox", "writer", F(1))),
                credit_pool=F(1, 2),
            )
        ]
    )
    event = RevenueEvent("e", "f2", 1010, costs=10)
    s = engine(G).settle_event(event)
    assert s.recouped == {"dana": 5, "eve": 5}
    assert s.creators == {"dana": 500, "eve": 250, "fox": 250}
    b = engine(G).settle_batch([event, RevenueEvent("e2", "f2", 3, costs=3)])
    # e2 only recoups: 3 micros to dana and eve, 1.5 each, the odd one to dana by id.
    assert b.recouped == {"dana": 7, "eve": 6}


def test_a_full_pool_leaves_the_owner_only_the_recoup(engine):
    G = build_graph([Work("f3", "record", {"studio": F(1)}, credits=(GINA,), credit_pool=F(1))])
    s = engine(G).settle_event(RevenueEvent("e", "f3", 100, costs=40))
    assert (s.recouped, s.creators) == ({"studio": 40}, {"gina": 60})


# -- explanations --------------------------------------------------------------


def test_explanation_names_the_role_and_the_credit_pool(engine):
    # gina's part of f1 is 3/16 = 18.75% of its retained value: 324000 * 3/16 = 60750.
    G, events = film()
    s = engine(G).settle_event(events["e1"])
    [item] = s.explain("gina")
    assert (item.work, item.ownership, item.amount) == ("f1", F(3, 16), 60750)
    assert [(p.role, p.share, p.credit_pool) for p in item.parts] == [
        ("performer", F(3, 16), F(1, 4))
    ]
    assert render_explanation(G, item) == [
        "r2 (remix) earned 0.81; 40% of r2’s value flows to Night Swim (record); "
        "as performer on Night Swim, through 25% credit pool, your part is 18.75%: "
        "0.06 of this sale"
    ]
    [owned] = s.explain("studio")
    assert render_explanation(G, owned) == [
        "r2 (remix) earned 0.81; 40% of r2’s value flows to your record Night Swim; "
        "after the 25% credit pool, as its owner your part is 75%: 0.24 of this sale"
    ]
    [escrow] = s.explain("credit:k7")
    assert escrow.amount == 20250


def test_an_owner_who_is_also_credited_is_explained_with_both_parts():
    G = build_graph(
        [
            Work(
                "f2",
                "production",
                {"dana": F(1, 2), "eve": F(1, 2)},
                title="Tide",
                credits=(Credit("dana", "director", F(1)), Credit("fox", "writer", F(1))),
                credit_pool=F(1, 2),
            )
        ]
    )
    [item] = explain(G, RevenueEvent("e", "f2", 1_000_000), "dana")
    assert render_explanation(G, item) == [
        "Your production Tide earned 1.00; as owner and as director on Tide, "
        "through 50% credit pool, your part is 50%: 0.50 of this sale"
    ]


def test_explanation_document_lists_the_parts():
    doc = load_document(CREDITS_DOCUMENT)
    out = settlement_document(doc, explain="gina")
    assert out["explanations"][0]["works"][0]["parts"] == [
        {"as": "credit", "role": "performer", "share": "0.1875", "credit_pool": "0.25"}
    ]
    assert out["totals"]["credit:k7"] == 20250 + 1  # e1, then the last micro of e2


# -- the interchange format ----------------------------------------------------


def test_credits_round_trip_through_load_and_dump():
    doc = load_document(CREDITS_DOCUMENT)
    dumped = dump_document(doc.currency, doc.works, doc.events)
    assert dumped["works"][0]["credits"] == CREDITS_DOCUMENT["works"][0]["credits"]
    assert dumped["works"][0]["credit_pool"] == "0.25"
    again = loads_document(json.dumps(dumped))
    assert again.works == doc.works
    assert payees_of(again.graph, "f1") == {
        "credit:k7": F(1, 16),
        "gina": F(3, 16),
        "studio": F(3, 4),
    }


def with_film(**changes):
    data = copy.deepcopy(CREDITS_DOCUMENT)
    data["works"][0].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (
            with_film(credits=[{"payee": "gina", "role": "performer", "weight": "0"}]),
            InvalidShare,
            "work f1: credit weight of gina must be positive, got 0",
        ),
        (
            with_film(credits=[{"payee": "gina", "role": "performer", "weight": "-2"}]),
            InvalidShare,
            "work f1: credit weight of gina must be positive, got -2",
        ),
        (with_film(credit_pool="3/2"), InvalidShare, "work f1: credit_pool 3/2 is outside"),
        (with_film(credit_pool="-0.25"), InvalidShare, "work f1: credit_pool -1/4 is outside"),
        (
            with_film(credits=[]),
            InvalidInput,
            "work f1: credit_pool 1/4 is above 0 but the work has no credits",
        ),
        (
            with_film(credits=[{"payee": "gina", "weight": "1"}]),
            InvalidInput,
            r"work f1: credits\[0\].role",
        ),
        (
            with_film(credits=[{"payee": "", "role": "writer", "weight": "1"}]),
            InvalidInput,
            r"work f1: credits\[0\].payee",
        ),
        (
            with_film(credits=[{"payee": "credit:", "role": "writer", "weight": "1"}]),
            InvalidInput,
            "work f1: a credit's payee must be a creator id or credit:<id>",
        ),
        (with_film(credits={"gina": 1}), InvalidInput, "work f1: credits must be a list"),
        (
            with_film(credits=[{"payee": "gina", "role": "writer", "weight": 0.5}]),
            InvalidShare,
            "work f1: credit weight of gina",
        ),
    ],
)
def test_bad_credits_are_refused_naming_the_work(data, error, match):
    with pytest.raises(error, match=match):
        load_document(data)


def test_a_pool_below_the_platform_minimum_is_refused():
    with pytest.raises(InvalidShare, match="work f1: credit_pool 1/4 is below the minimum 3/10"):
        load_document(CREDITS_DOCUMENT, min_credit_pool=F(3, 10))
    assert load_document(CREDITS_DOCUMENT, min_credit_pool=F(1, 4)).works[0].credit_pool == F(1, 4)
    # Works without credits need no pool, whatever the minimum.
    plain = {"currency": "USD", "works": [{"id": "r1", "kind": "record", "owners": {"a": "1"}}]}
    assert load_document(plain, min_credit_pool=F(1, 2)).works[0].credits == ()


def test_check_credits_is_the_rule_for_works_built_directly():
    with pytest.raises(InvalidShare, match="work w: credit weight of gina must be positive"):
        build_graph([Work("w", "record", {"a": F(1)}, credits=(Credit("gina", "x", F(0)),))])
    with pytest.raises(InvalidInput, match="work w: the credit of gina has no role"):
        check_credits("w", [Credit("gina", " ", F(1))], F(0))


# -- the compact form ----------------------------------------------------------


def test_compact_graph_keeps_credits_through_save_load_and_back_to_networkx(tmp_path):
    G, events = film()
    cg = fast.CompactGraph.from_graph(G)
    cg.save(tmp_path / "g.npz")
    loaded = fast.CompactGraph.load(tmp_path / "g.npz")
    assert works_of(loaded.to_graph()) == works_of(G)
    f1 = loaded.index_of("f1")
    assert loaded.owners_of(f1) == {"studio": F(1)}
    assert loaded.payees_of(f1) == payees_of(G, "f1")
    assert fast.settle_batch(loaded, list(events.values())) == fast.settle_batch(
        cg, list(events.values())
    )


def from_arrays(**credits):
    return fast.CompactGraph.from_arrays(
        ids=["f1", "r2"],
        kinds=["record", "record"],
        creators=["studio", "gina", "ann"],
        edge_work=np.array([1], np.int64),
        edge_source=np.array([0], np.int64),
        share_num=[2],
        share_den=[5],
        owner_work=[0, 1],
        owner_creator=[0, 2],
        own_num=[1, 1],
        own_den=[1, 1],
        **credits,
    )


def test_compact_graph_from_arrays_pays_credits_and_refuses_bad_ones_like_the_rule():
    good = {
        "credit_work": np.array([0], np.int64),
        "credit_payee": np.array([1], np.int64),
        "credit_role": ["performer"],
        "credit_num": [1],
        "credit_den": [1],
        "pool_num": [1, 0],
        "pool_den": [5, 1],
    }
    cg = from_arrays(**good)
    # 100 at r2: r2 keeps 60 for ann; 40 to f1, of which gina gets 1/5 = 8, studio 32.
    s = fast.settle_event(cg, RevenueEvent("e", "r2", 100, costs=0))
    assert s.creators == {"ann": 60, "gina": 8, "studio": 32}
    assert s.creators == credit.settle_event(cg.to_graph(), RevenueEvent("e", "r2", 100)).creators
    with pytest.raises(InvalidShare, match="work f1: credit weight of gina must be positive"):
        from_arrays(**{**good, "credit_num": [0]})
    with pytest.raises(InvalidShare, match="work f1: credit_pool 6/5 is outside"):
        from_arrays(**{**good, "pool_num": [6, 0]})
    with pytest.raises(InvalidInput, match="work r2: credit_pool 1/2 is above 0 but"):
        from_arrays(**{**good, "pool_num": [1, 1], "pool_den": [5, 2]})
    with pytest.raises(InvalidInput, match="work f1: the credit of gina has no role"):
        from_arrays(**{**good, "credit_role": [""]})


def test_batches_of_columns_recoup_to_owners_of_credited_works():
    G, _ = film()
    cg = fast.CompactGraph.from_graph(G)
    columns = fast.settle_batch_arrays(cg, ["f1", "f1", "r2"], [1000, 9, 50], costs=[400, 9, 5])
    events = [
        RevenueEvent("a", "f1", 1000, 400),
        RevenueEvent("b", "f1", 9, 9),
        RevenueEvent("c", "r2", 50, 5),
    ]
    exact = credit.settle_batch(G, events)
    assert columns.recouped == exact.recouped == {"ann": 5, "studio": 409}
    assert columns.creators == exact.creators


# -- properties ----------------------------------------------------------------


@st.composite
def credited_scenario(draw):
    works = draw(works_strategy(max_works=8, credits=True))
    return works, draw(events_strategy(works, max_events=5))


@pytest.mark.parametrize("name", OTHER_ENGINES)
@given(case=credited_scenario())
@PROPERTY
def test_every_engine_gives_the_exact_engines_micros_with_credits(name, case):
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
    assert (quick_batch.creators, quick_batch.recouped) == (
        exact_batch.creators,
        exact_batch.recouped,
    )
    assert dict(quick_batch.entitlements) == exact_batch.entitlements


@given(case=credited_scenario())
@PROPERTY
def test_with_credits_money_is_conserved_and_recoups_go_to_owners(case):
    works, events = case
    G = build_graph(works)
    for event in events:
        s = credit.settle_event(G, event)
        assert sum(s.recouped.values()) + s.fee + sum(s.creators.values()) == event.amount
        assert set(s.recouped) <= set(G.nodes[event.work]["owners"])
        assert sum(s.entitlements.values()) == s.distributable
    for work in works:
        shares = payees_of(G, work.id)
        assert sum(shares.values()) == 1 and all(v > 0 for v in shares.values())
