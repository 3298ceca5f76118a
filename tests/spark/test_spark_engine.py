"""The Spark engine against the exact engine: known answers, random graphs, depth, faults."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitrack.domain.graph import build_graph
from hitrack.domain.interchange import load_document
from tests.factories import (
    CREDITS_DOCUMENT,
    DESIGN_DOCUMENT,
    events_strategy,
    works_strategy,
)

from .jobs import assert_exact, both_ways, prefixed, run_job

SPARK_PROPERTY = settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


def test_design_example_per_event_and_as_a_batch(spark, tmp_path):
    # The hand-worked answers of tests/domain/test_credit.py.
    doc = load_document(DESIGN_DOCUMENT)
    groups = both_ways(doc.events)
    settled, job = run_job(
        spark, tmp_path, doc.graph, groups, block_works=1, tasks=2, validate=True
    )
    assert settled["one:e1"].creators == {
        "alice": 437400,
        "bob": 145800,
        "carol": 145800,
        "dana": 81000,
    }
    assert (settled["one:e1"].recouped, settled["one:e1"].fee) == ({"dana": 100000}, 90000)
    assert settled["one:e2"].creators == {
        "alice": 96875,
        "bob": 14063,
        "carol": 14062,
        "lab": 125000,
    }
    assert settled["all"].creators == {
        "alice": 534275,
        "bob": 159863,
        "carol": 159862,
        "dana": 81000,
        "lab": 125000,
    }
    assert job.report.blocks == 3
    assert assert_exact(doc.graph, settled, groups) == 3


def test_credits_are_paid_through_the_pool_with_the_exact_micros(spark, tmp_path):
    # A studio's film with a performer and an unclaimed sound mixer (its escrow,
    # credit:k7), and a remix citing it: the payees of DESIGN section 1.
    doc = load_document(CREDITS_DOCUMENT)
    groups = both_ways(doc.events)
    settled, _job = run_job(spark, tmp_path, doc.graph, groups, block_works=1, tasks=2)
    assert {"gina", "credit:k7", "studio", "ann"} <= set(settled["all"].creators)
    assert assert_exact(doc.graph, settled, groups) == 3


@st.composite
def scenarios(draw: st.DrawFn) -> list:
    out = []
    for i in range(draw(st.integers(6, 14))):
        works = draw(works_strategy(max_works=8))
        out.append(prefixed(works, draw(events_strategy(works, max_events=3)), f"s{i}."))
    return out


@given(
    scenarios(),
    st.sampled_from([0, 3, 18]),
    st.sampled_from([2, 25, 1000]),
    st.sampled_from([1, 2, 3]),
)
@SPARK_PROPERTY
def test_random_graphs_with_attribution_give_the_exact_micros(
    spark, tmp_path_factory, cases, scale, block_works, tasks
):
    works = [w for case_works, _ in cases for w in case_works]
    G = build_graph(works)
    groups = {}
    for i, (_, events) in enumerate(cases):
        groups.update(both_ways(events, f"s{i}."))
    folder = tmp_path_factory.mktemp("random")
    settled, _ = run_job(
        spark, folder, G, groups, scale=scale, block_works=block_works, tasks=tasks
    )
    assert assert_exact(G, settled, groups) == len(groups)
