"""Jobs: deterministic output, lost tasks retried, and a layout's rules enforced."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hitrack.domain.errors import CycleError, InvalidEvent, UnknownWork
from hitrack.domain.graph import build_graph
from hitrack.domain.interchange import load_document
from hitrack.spark.engine import FAIL_FIRST_ATTEMPT, SparkSettlement
from hitrack.spark.layout import export_layout
from tests.factories import DESIGN_DOCUMENT

from .graphs import catalogue, events_at
from .jobs import both_ways, run_job


def rows(folder, name):
    table = ds.dataset(str(folder / "output" / name), format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def failed_tasks(spark, group):
    tracker = spark.sparkContext.statusTracker()
    failed = 0
    for job in tracker.getJobIdsForGroup(group):
        for stage in tracker.getJobInfo(job).stageIds:
            info = tracker.getStageInfo(stage)
            failed += info.numFailedTasks if info else 0
    return failed


def test_a_job_run_twice_and_a_job_whose_tasks_are_lost_give_identical_output(spark, tmp_path):
    works = catalogue(300, seed=5)
    G = build_graph(works)
    groups = both_ways(events_at(works, 40, seed=2))
    first, job = run_job(spark, tmp_path / "a", G, groups, block_works=60, tasks=2)
    assert job.report.blocks > 2
    # The same job again, this time losing the first attempt of every propagation task.
    spark.sparkContext.setLocalProperty(FAIL_FIRST_ATTEMPT, "1")
    try:
        again, lossy_job = run_job(spark, tmp_path / "b", G, groups, block_works=60, tasks=2)
    finally:
        spark.sparkContext.setLocalProperty(FAIL_FIRST_ATTEMPT, None)
    assert failed_tasks(spark, lossy_job.report.job_group) >= job.report.blocks
    other, other_job = run_job(spark, tmp_path / "c", G, groups, block_works=1_000, tasks=1)
    assert other_job.report.blocks == 1
    for name in ("allocations", "settlements"):
        expected = rows(tmp_path / "a", name)
        assert expected
        assert rows(tmp_path / "b", name) == expected
        # Blocks and tasks change how the work is cut, never a value or its bound.
        assert rows(tmp_path / "c", name) == expected
    assert first == again == other


def _layout(tmp_path):
    doc = load_document(DESIGN_DOCUMENT)
    root = tmp_path / "layout"
    export_layout(str(root), doc.graph, doc.events, currency="USD")
    return root


def _edit(root, table, change):
    path = root / table / "part-00000.parquet"
    data = pq.read_table(path).to_pylist()
    schema = pq.read_table(path).schema
    pq.write_table(pa.Table.from_pylist(change(data), schema=schema), path)


@pytest.mark.parametrize(
    ("table", "change", "error", "message"),
    [
        (
            "works",
            lambda rows: [dict(r, height=0) if r["work"] == "p1" else r for r in rows],
            CycleError,
            "citation p1 -> r1",
        ),
        (
            "citations",
            lambda rows: [*rows, dict(rows[0], source="ghost")],
            UnknownWork,
            "cites unknown work ghost",
        ),
        (
            "events",
            lambda rows: [dict(r, amount=-5) if r["event"] == "e2" else r for r in rows],
            InvalidEvent,
            "event e2: amount -5 is negative",
        ),
    ],
)
def test_a_layout_breaking_a_rule_is_refused_naming_the_offender(
    spark, tmp_path, table, change, error, message
):
    root = _layout(tmp_path)
    _edit(root, table, change)
    job = SparkSettlement(spark, str(root), str(tmp_path / "out"))
    with pytest.raises(error, match=message):
        job.run()
    assert not (tmp_path / "out" / "allocations").exists()
