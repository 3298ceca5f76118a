"""Depth is not cost: a remix chain 10,000 levels deep and a 10,000-work catalogue in one job."""

from __future__ import annotations

from dataclasses import replace

from hitrack.domain.graph import build_graph

from .graphs import catalogue, chain, events_at
from .jobs import assert_exact, run_job


def stages_of(spark, group: str) -> tuple[int, int]:
    tracker = spark.sparkContext.statusTracker()
    jobs = tracker.getJobIdsForGroup(group)
    return len(jobs), sum(len(tracker.getJobInfo(j).stageIds) for j in jobs)


def test_a_10k_level_chain_and_a_10k_work_catalogue_settle_exactly_in_few_stages(spark, tmp_path):
    deep, wide = chain(10_000), catalogue(10_000)
    G = build_graph(deep + wide)
    top = deep[-1].id
    deep_events = [replace(e, work=top) for e in events_at(deep, 3, prefix="d")]
    deep_events += events_at(deep, 8, seed=3, prefix="dd")
    wide_events = events_at(wide, 150, prefix="w")
    groups = {
        f"one:{e.id}": [replace(e, id=f"one:{e.id}")] for e in deep_events[:3] + wide_events[:12]
    }
    groups["chain"] = [replace(e, id=f"chain:{e.id}") for e in deep_events]
    groups["catalogue"] = [replace(e, id=f"cat:{e.id}") for e in wide_events]
    settled, job = run_job(spark, tmp_path, G, groups, block_works=5_000)
    assert job.report.heights >= 10_000
    # About 5,000 works a block, cut at whole heights.
    assert 4 <= job.report.blocks <= 5
    jobs, stages = stages_of(spark, job.report.job_group)
    # A level-by-level engine would run one stage per level (10,000 here).
    assert stages <= 40 + 12 * job.report.blocks * (1 + job.report.exact_rounds), (jobs, stages)
    assert assert_exact(G, settled, groups) == len(groups)
