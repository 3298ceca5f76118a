"""Settlement benchmark: the networkx reference against the fast array engine.

Run from the repository root::

    .venv/bin/python benchmarks/settle_bench.py --sizes 10000,100000,1000000

A synthetic contribution graph is generated with a fixed seed: each new work
cites 1-8 earlier works, preferring popular ones (preferential attachment),
with two-decimal shares; each work has 1-3 owners among ``works / 3``
creators. Every measurement runs in its own process so peak memory (VmHWM)
belongs to that engine alone.

Reported per size: build (reference: networkx graph; fast: compaction and
``.npz`` write), load of the stored form (fast), one event at the work with
the largest ancestry among the newest works, a batch of 100,000 events
(``settle_batch`` on a list of ``RevenueEvent``: reading and checking the
events is timed with the settlement; best of 3 runs, the first run shown too), the same batch given as columns
(``settle_batch_arrays``, building the columns from the events included), and
peak memory. The exact Fraction engine is timed where it finishes in
reasonable time; beyond that the networkx reference is the same propagation
in floats (marked "float"), which is what the speed-up is measured against.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hitrack.domain import credit, fast  # noqa: E402
from hitrack.domain.credit import RevenueEvent  # noqa: E402

SEED = 20240601
BATCH_EVENTS = 100_000
EXACT_SINGLE_UP_TO = 100_000
EXACT_BATCH_EVENTS = 200


def generate(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Arrays of a preferential-attachment contribution graph with ``n`` works."""
    rng = np.random.default_rng(seed)
    pool: list[int] = [0]
    edge_work: list[int] = []
    edge_source: list[int] = []
    share_num: list[int] = []
    counts = rng.integers(1, 9, size=n)
    picks = rng.random(size=(n, 12))
    for i in range(1, n):
        k = min(int(counts[i]), i)
        chosen: set[int] = set()
        for p in picks[i]:
            if len(chosen) == k:
                break
            chosen.add(pool[int(p * len(pool))])
        while len(chosen) < k:
            chosen.add(int(rng.integers(0, i)))
        cap = 90 // k
        for source in sorted(chosen):
            edge_work.append(i)
            edge_source.append(source)
            share_num.append(int(rng.integers(1, cap + 1)))
            pool.append(source)
        pool.append(i)
    creators = max(n // 3, 1)
    owner_counts = rng.integers(1, 4, size=n)
    owner_work = np.repeat(np.arange(n), owner_counts)
    owner_creator = np.empty(len(owner_work), np.int64)
    own_num = np.empty(len(owner_work), np.int64)
    own_den = np.empty(len(owner_work), np.int64)
    splits = {1: [(1, 1)], 2: [(1, 2), (1, 2)], 3: [(1, 2), (1, 4), (1, 4)]}
    k = 0
    for i in range(n):
        c = int(owner_counts[i])
        who = rng.choice(creators, size=c, replace=False)
        for j in range(c):
            owner_creator[k] = who[j]
            own_num[k], own_den[k] = splits[c][j]
            k += 1
    kinds = np.where(rng.random(n) < 0.8, 0, 1).astype(np.int8)
    return {
        "kinds": kinds,
        "edge_work": np.array(edge_work, np.int64),
        "edge_source": np.array(edge_source, np.int64),
        "share_num": np.array(share_num, np.int64),
        "share_den": np.full(len(edge_work), 100, np.int64),
        "owner_work": owner_work,
        "owner_creator": owner_creator,
        "own_num": own_num,
        "own_den": own_den,
    }


def events_for(n: int, count: int, seed: int = SEED + 1) -> list[RevenueEvent]:
    rng = np.random.default_rng(seed)
    works = rng.integers(0, n, size=count)
    amounts = rng.integers(1, 100_000_000, size=count)
    fees = rng.random(count) < 0.5
    return [
        RevenueEvent(f"e{i}", f"w{w}", int(a), fee_rate=Fraction(1, 10) if f else Fraction(0))
        for i, (w, a, f) in enumerate(
            zip(works.tolist(), amounts.tolist(), fees.tolist(), strict=True)
        )
    ]


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def compact_from(data: dict[str, np.ndarray], n: int) -> fast.CompactGraph:
    return fast.CompactGraph.from_arrays(
        ids=[f"w{i}" for i in range(n)],
        kinds=data["kinds"],
        creators=[f"c{i}" for i in range(max(n // 3, 1))],
        edge_work=data["edge_work"],
        edge_source=data["edge_source"],
        share_num=data["share_num"],
        share_den=data["share_den"],
        owner_work=data["owner_work"],
        owner_creator=data["owner_creator"],
        own_num=data["own_num"],
        own_den=data["own_den"],
    )


def phase_fast_build(n: int, tmp: Path) -> dict[str, Any]:
    data = dict(np.load(tmp / "gen.npz"))
    seconds, cg = timed(lambda: compact_from(data, n))
    cg.save(tmp / "graph.npz")
    newest = range(max(n - 20, 0), n)
    sizes = {w: int(cg.ancestry_mask(cg.index_of(f"w{w}") or 0).sum()) for w in newest}
    target = max(sizes, key=lambda w: sizes[w])
    return {
        "build_s": seconds,
        "target": f"w{target}",
        "ancestry": sizes[target],
        "edges": cg.edge_count,
        "levels": cg.level_count,
        "peak_mb": peak_mb(),
    }


def phase_fast_run(n: int, tmp: Path, target: str) -> dict[str, Any]:
    events = events_for(n, BATCH_EVENTS)
    load_s, cg = timed(lambda: fast.CompactGraph.load(tmp / "graph.npz"))
    cg.index_of("w0")  # the id index is part of loading, not of settling
    event = RevenueEvent("single", target, 987_654_321, fee_rate=Fraction(1, 10))
    single_s, single = timed(lambda: fast.settle_event(cg, event), repeat=5)
    first_batch_s, batch = timed(lambda: fast.settle_batch(cg, events))
    again_s, _ = timed(lambda: fast.settle_batch(cg, events), repeat=2)

    def from_columns() -> Any:
        # The same events as columns (as read from storage): ids, amounts, fee rates.
        return fast.settle_batch_arrays(
            cg,
            [e.work for e in events],
            np.array([e.amount for e in events], np.int64),
            None,
            np.array([e.fee_rate.numerator for e in events], np.int64),
            np.array([e.fee_rate.denominator for e in events], np.int64),
        )

    columns_s, columns = timed(from_columns)
    assert columns.creators == batch.creators, "column batch differs from the event batch"
    return {
        "load_s": load_s,
        "single_s": single_s,
        "batch_s": min(first_batch_s, again_s),
        "first_batch_s": first_batch_s,
        "batch_columns_s": columns_s,
        "peak_mb": peak_mb(),
        "single_creators": single.creators,
        "batch_creators_sum": sum(batch.creators.values()),
        "batch_distributable": batch.distributable,
    }


def _nx_graph(data: dict[str, np.ndarray], n: int, exact: bool) -> Any:
    import networkx as nx

    G = nx.DiGraph()
    owners: list[dict[str, Any]] = [{} for _ in range(n)]
    for w, c, a, b in zip(
        data["owner_work"].tolist(),
        data["owner_creator"].tolist(),
        data["own_num"].tolist(),
        data["own_den"].tolist(),
        strict=True,
    ):
        owners[w][f"c{c}"] = Fraction(a, b) if exact else a / b
    kinds = ("record", "production", "model")
    for i in range(n):
        G.add_node(
            f"w{i}",
            kind=kinds[int(data["kinds"][i])],
            owners=owners[i],
            attribution_weight=Fraction(0),
            consent_remix=True,
            consent_ai_training=False,
            title="",
        )
    for w, s, a, b in zip(
        data["edge_work"].tolist(),
        data["edge_source"].tolist(),
        data["share_num"].tolist(),
        data["share_den"].tolist(),
        strict=True,
    ):
        G.add_edge(f"w{w}", f"w{s}", share=Fraction(a, b) if exact else a / b)
    return G


def _float_entitlements(G: Any, order: list[str], value: dict[str, float]) -> dict[str, float]:
    """The settlement propagation in floats over ``order`` (a topological order)."""
    out: dict[str, float] = {}
    for node in order:
        v = value.get(node, 0.0)
        if not v:
            continue
        kept = 1.0
        for _, source, data in G.out_edges(node, data=True):
            value[source] = value.get(source, 0.0) + v * data["share"]
            kept -= data["share"]
        for creator, f in G.nodes[node]["owners"].items():
            out[creator] = out.get(creator, 0.0) + v * kept * f
    return out


def phase_reference(n: int, tmp: Path, target: str) -> dict[str, Any]:
    import networkx as nx

    data = dict(np.load(tmp / "gen.npz"))
    exact = n <= EXACT_SINGLE_UP_TO
    build_s, G = timed(lambda: _nx_graph(data, n, exact))
    event = RevenueEvent("single", target, 987_654_321, fee_rate=Fraction(1, 10))
    result: dict[str, Any] = {"build_s": build_s, "exact": exact}
    if exact:
        single_s, single = timed(lambda: credit.settle_event(G, event))
        result["single_creators"] = single.creators
        few = events_for(n, EXACT_BATCH_EVENTS)
        result["exact_batch_s"], _ = timed(lambda: credit.settle_batch(G, few))
    else:

        def single_float() -> dict[str, float]:
            sub = G.subgraph(nx.descendants(G, target) | {target})
            return _float_entitlements(G, list(nx.topological_sort(sub)), {target: 887_000_000.0})

        single_s, _ = timed(single_float)
    result["single_s"] = single_s
    events = events_for(n, BATCH_EVENTS)

    def batch_float() -> dict[str, float]:
        injected: dict[str, float] = {}
        for e in events:
            d = e.amount - e.amount * e.fee_rate.numerator // e.fee_rate.denominator
            injected[e.work] = injected.get(e.work, 0.0) + d
        return _float_entitlements(G, list(nx.topological_sort(G)), injected)

    result["batch_float_s"], _ = timed(batch_float)
    result["peak_mb"] = peak_mb()
    return result


def run_phase(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    parsed: dict[str, Any] = json.loads(out.stdout)
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--skip-reference-above", type=int, default=10**9)
    args = parser.parse_args()
    if args.phase:
        tmp = Path(args.tmp)
        if args.phase == "generate":
            np.savez(tmp / "gen.npz", **generate(args.size))
            print(json.dumps({}))
        elif args.phase == "fast-build":
            print(json.dumps(phase_fast_build(args.size, tmp)))
        elif args.phase == "fast-run":
            print(json.dumps(phase_fast_run(args.size, tmp, args.target)))
        else:
            print(json.dumps(phase_reference(args.size, tmp, args.target)))
        return
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as name:
            common = ["--size", str(n), "--tmp", name]
            t0 = time.perf_counter()
            run_phase("--phase", "generate", *common)
            gen_s = time.perf_counter() - t0
            built = run_phase("--phase", "fast-build", *common)
            ran = run_phase("--phase", "fast-run", *common, "--target", built["target"])
            ref: dict[str, Any] = {}
            if n <= args.skip_reference_above:
                ref = run_phase("--phase", "reference", *common, "--target", built["target"])
                if "single_creators" in ref:
                    assert ref["single_creators"] == ran["single_creators"], "engines disagree"
            rows.append((n, gen_s, built, ran, ref))
            print(f"{n} works done", file=sys.stderr)
    print(render(rows))


def render(rows: list[tuple[int, float, dict[str, Any], dict[str, Any], dict[str, Any]]]) -> str:
    def ms(x: float | None) -> str:
        return "—" if x is None else (f"{x * 1000:.1f} ms" if x < 10 else f"{x:.1f} s")

    lines = [
        "| works | citations | levels | largest ancestry | engine | build | load | one event | "
        "batch of 100k events | peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, _gen, built, ran, ref in rows:
        head = f"| {n:,} | {built['edges']:,} | {built['levels']} | {built['ancestry']:,} "
        lines.append(
            head + f"| fast (arrays) | {ms(built['build_s'])} | {ms(ran['load_s'])} | "
            f"{ms(ran['single_s'])} | {ms(ran['batch_s'])} (first {ms(ran['first_batch_s'])}) | "
            f"{ran['peak_mb']:.0f} MB |"
        )
        if ref:
            kind = "networkx exact" if ref["exact"] else "networkx float"
            lines.append(
                head + f"| {kind} | {ms(ref['build_s'])} | — | {ms(ref['single_s'])} | "
                f"{ms(ref['batch_float_s'])} (float) | {ref['peak_mb']:.0f} MB |"
            )
            speedup = ref["single_s"] / ran["single_s"]
            extra = (
                f"; exact engine, batch of {EXACT_BATCH_EVENTS} events: {ms(ref['exact_batch_s'])}"
                if "exact_batch_s" in ref
                else ""
            )
            lines.append(f"| | | | | one-event speed-up: {speedup:,.0f}x{extra} | | | | | |")
        lines.append(
            f"| | | | | fast, the same batch given as columns (`settle_batch_arrays`): "
            f"{ms(ran['batch_columns_s'])} | | | | | |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
