"""Spark settlement benchmark: the Spark engine in local mode beside the in-process fast engine.

Run from the repository root::

    .venv/bin/python benchmarks/spark_bench.py --sizes 100000,1000000

The graph is the seeded preferential-attachment catalogue of
``settle_bench.py`` (``--graph catalogue``), or the same catalogue where
every work also remixes one of the eight works just before it (``--graph deep``:
remix chains, tens of thousands of levels). The batch is 100,000 events with
random amounts, half of them with a 10 % fee, settled as one settlement
period. The layout is written from arrays with pyarrow (as a data team would
from its lake) and settled by one :class:`~hitrack.spark.engine.SparkSettlement`
job; the fast engine settles the same events with ``settle_batch_arrays`` in
the same process, and the two results are asserted equal micro for micro.

Reported per size: works, citations, heights (levels), blocks; the Spark job's
wall time by phase, its jobs and stages (status tracker) and the shuffle bytes
written and read and the executors' run time (from the event log the
listener writes); the fast engine's compaction and batch times. One JSON
line per size goes to standard output.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

import settle_bench  # noqa: E402

from hitrack.domain import fast  # noqa: E402
from hitrack.spark.engine import SparkSettlement  # noqa: E402
from hitrack.spark.reader import read_output  # noqa: E402
from hitrack.spark.session import spark_session  # noqa: E402

EVENTS = 100_000


def deepen(data: dict[str, np.ndarray], n: int, seed: int = settle_bench.SEED + 7) -> None:
    """Every work also remixes one of the 8 works created just before it (share 0.05).

    Remix chains: the graph becomes tens of thousands of levels deep (about
    ``n / 4.5``), a handful of works per level.
    """
    rng = np.random.default_rng(seed)
    works = np.arange(1, n, dtype=np.int64)
    sources = np.maximum(works - rng.integers(1, 9, size=n - 1), 0)
    have = set(zip(data["edge_work"].tolist(), data["edge_source"].tolist(), strict=True))
    keep = [
        k
        for k, pair in enumerate(zip(works.tolist(), sources.tolist(), strict=True))
        if pair not in have
    ]
    add_work, add_source = works[keep], sources[keep]
    data["edge_work"] = np.concatenate([data["edge_work"], add_work])
    data["edge_source"] = np.concatenate([data["edge_source"], add_source])
    data["share_num"] = np.concatenate([data["share_num"], np.full(len(keep), 5, np.int64)])
    data["share_den"] = np.concatenate([data["share_den"], np.full(len(keep), 100, np.int64)])


def write_layout(root: Path, cg: fast.CompactGraph, events: dict[str, np.ndarray]) -> None:
    """The Parquet layout of a compact graph and a batch of events (one settlement)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(name: str, columns: dict[str, Any]) -> None:
        (root / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), root / name / "part-00000.parquet")

    def dec(values: np.ndarray) -> pa.Array:
        return pa.array(values.astype(np.int64)).cast(pa.decimal128(38, 0))

    ids = cg.ids.astype(str)
    height = (cg.level_count - 1 - cg.level).astype(np.int32)
    kinds = np.array(["record", "production", "model"])[cg.kinds.astype(np.int64)]
    table("works", {"work": ids, "kind": kinds, "height": height})
    rows = np.repeat(np.arange(cg.work_count), np.diff(cg.indptr))
    table(
        "citations",
        {
            "work": ids[rows],
            "source": ids[cg.indices],
            "num": dec(cg.share_num),
            "den": dec(cg.share_den),
        },
    )
    owner_rows = np.repeat(np.arange(cg.work_count), np.diff(cg.own_ptr))
    creators = np.array(cg.creator_names)
    parts = {
        "work": ids[owner_rows],
        "payee": creators[cg.own_creator],
        "num": dec(cg.own_num),
        "den": dec(cg.own_den),
    }
    table("payees", parts)
    table("owners", {"owner" if k == "payee" else k: v for k, v in parts.items()})
    count = len(events["work"])
    table(
        "events",
        {
            "event": np.array([f"e{i}" for i in range(count)]),
            "settlement": np.full(count, "batch"),
            "work": events["work"],
            "amount": events["amount"],
            "costs": np.zeros(count, np.int64),
            "fee_num": dec(events["fee_num"]),
            "fee_den": dec(events["fee_den"]),
        },
    )
    empty = {"event": pa.array([], pa.string()), "num": dec(np.array([])), "den": dec(np.array([]))}
    table(
        "event_shares",
        {
            "event": empty["event"],
            "source": pa.array([], pa.string()),
            **{k: empty[k] for k in ("num", "den")},
        },
    )
    table(
        "attribution",
        {
            "event": empty["event"],
            "work": pa.array([], pa.string()),
            **{k: empty[k] for k in ("num", "den")},
        },
    )
    table("meta", {"key": ["format", "currency"], "value": ["1", "USD"]})


def event_log_figures(folder: Path, group: str) -> dict[str, Any]:
    """Stages, shuffle bytes and executor run time of one job group, from Spark's event log."""
    stage_ids: set[int] = set()
    per_stage: dict[int, dict[str, float]] = defaultdict(dict)
    names = {
        "internal.metrics.shuffle.write.bytesWritten": "shuffle_write",
        "internal.metrics.shuffle.read.localBytesRead": "shuffle_read",
        "internal.metrics.shuffle.read.remoteBytesRead": "shuffle_read_remote",
        "internal.metrics.executorRunTime": "run_ms",
        "internal.metrics.input.bytesRead": "input",
        "internal.metrics.output.bytesWritten": "output",
    }
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            kind = event.get("Event")
            if kind == "SparkListenerJobStart":
                if (event.get("Properties") or {}).get("spark.jobGroup.id") == group:
                    stage_ids.update(event["Stage IDs"])
            elif kind == "SparkListenerStageCompleted":
                info = event["Stage Info"]
                figures = per_stage[info["Stage ID"]]
                figures["tasks"] = info["Number of Tasks"]
                figures["wall_ms"] = info.get("Completion Time", 0) - info.get("Submission Time", 0)
                for acc in info.get("Accumulables", []):
                    if acc.get("Name") in names:
                        figures[names[acc["Name"]]] = float(acc["Value"])
    ran = [per_stage[s] for s in sorted(stage_ids) if s in per_stage]
    total = defaultdict(float)
    for figures in ran:
        for key, value in figures.items():
            total[key] += value
    return {
        "stages_run": len(ran),
        "stages_planned": len(stage_ids),
        "shuffle_write_mb": round(total["shuffle_write"] / 2**20, 1),
        "shuffle_read_mb": round((total["shuffle_read"] + total["shuffle_read_remote"]) / 2**20, 1),
        "executor_run_s": round(total["run_ms"] / 1000, 1),
        "stage_wall_s": round(total["wall_ms"] / 1000, 1),
        "tasks": int(total["tasks"]),
        "input_mb": round(total["input"] / 2**20, 1),
    }


def run(
    n: int, graph: str, block_works: int, master: str, scale: int, driver_memory: str
) -> dict[str, Any]:
    data = settle_bench.generate(n)
    if graph == "deep":
        deepen(data, n)
    t0 = time.perf_counter()
    cg = settle_bench.compact_from(data, n)
    compact_s = time.perf_counter() - t0
    rng = np.random.default_rng(settle_bench.SEED + 1)
    works = rng.integers(0, n, size=EVENTS)
    fees = rng.random(EVENTS) < 0.5
    events = {
        "work": np.array([f"w{w}" for w in works.tolist()]),
        "amount": rng.integers(1, 100_000_000, size=EVENTS).astype(np.int64),
        "fee_num": np.where(fees, 1, 0).astype(np.int64),
        "fee_den": np.where(fees, 10, 1).astype(np.int64),
    }
    t0 = time.perf_counter()
    quick = fast.settle_batch_arrays(
        cg, events["work"].tolist(), events["amount"], None, events["fee_num"], events["fee_den"]
    )
    fast_s = time.perf_counter() - t0
    scratch = Path(tempfile.mkdtemp(prefix="hitrack-spark-bench-"))
    logs = scratch / "events"
    logs.mkdir()
    spark = spark_session(
        master,
        app_name="hitrack-spark-bench",
        conf={
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": f"file://{logs}",
            "spark.eventLog.compress": "false",
            "spark.eventLog.rolling.enabled": "false",
            "spark.driver.memory": driver_memory,
        },
    )
    try:
        write_layout(scratch / "layout", cg, events)
        job = SparkSettlement(
            spark,
            str(scratch / "layout"),
            str(scratch / "out"),
            block_works=block_works,
            scale=scale,
        )
        t0 = time.perf_counter()
        report = job.run()
        spark_s = time.perf_counter() - t0
        job.critical_works()
        tracker = spark.sparkContext.statusTracker()
        jobs = tracker.getJobIdsForGroup(report.job_group)
        stages = sum(len(tracker.getJobInfo(j).stageIds) for j in jobs)
        settled = read_output(str(scratch / "out"))["batch"]
        assert settled.creators == quick.creators, (
            "the Spark engine's micros differ from the fast engine's"
        )
        assert settled.distributable == quick.distributable
        spark.stop()
        figures = event_log_figures(logs, report.job_group)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "works": n,
        "graph": graph,
        "citations": cg.edge_count,
        "levels": cg.level_count,
        "blocks": report.blocks,
        "tasks_per_block": report.tasks,
        "critical_works": report.critical_works,
        "block_works": block_works,
        "events": EVENTS,
        "creators_paid": len(quick.creators),
        "spark_s": round(spark_s, 1),
        "spark_phases_s": report.seconds,
        "exact_rounds": report.exact_rounds,
        "exact_creators": report.exact_creators,
        "jobs": len(jobs),
        "stages": stages,
        **figures,
        "fast_compact_s": round(compact_s, 2),
        "fast_batch_s": round(fast_s, 2),
        "micros_equal": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--graph", choices=["catalogue", "deep"], default="catalogue")
    parser.add_argument("--block-works", type=int, default=250_000)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--scale", type=int, default=18)
    parser.add_argument("--driver-memory", default="6g", help="local mode: the executors live here")
    args = parser.parse_args()
    for size in [int(s) for s in args.sizes.split(",")]:
        result = run(
            size, args.graph, args.block_works, args.master, args.scale, args.driver_memory
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
