"""The block kernels of the Spark engine: plain Python over pandas frames.

These run on the executors inside ``applyInPandas``; nothing here imports
Spark, so each kernel is also tested on its own. Values are fixed-point
integers in *ulps* of ``10**-scale`` micros, each with an integer error bound
``err`` (also in ulps): the exact value lies in ``[value, value + err]``.

* :func:`pieces` splits one block into tasks: connected pieces of the block's
  own citations, packed onto ``tasks`` tasks.
* :func:`forward` propagates value through one task of one block, for every
  settlement at once, and returns what each payee is owed and what flows on
  to later blocks.
* :func:`backward` computes, exactly (``Fraction``), the part of one unit
  entering each work that ends with each of a few chosen creators, and from
  it their exact entitlements.
* :func:`decide` rounds one settlement (largest remainder, ties by creator id)
  on the intervals, or names the creators whose exact value it needs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction
from typing import Any

import pandas as pd

__all__ = [
    "STRUCT_COLUMNS",
    "FLOW_COLUMNS",
    "pieces",
    "forward",
    "backward",
    "decide",
    "to_ulps",
    "from_ulps",
]

# Wide enough for any DECIMAL(38, s) and its scaled integer.
_CONTEXT = Context(prec=100)

# The block structure rows (one per citation, payee or export of a work).
STRUCT_COLUMNS = [
    "block",
    "task",
    "kind",
    "work",
    "height",
    "other",
    "num",
    "den",
    "to_block",
    "to_task",
]
# Rows flowing into and out of the kernels.
FLOW_COLUMNS = [
    "block",
    "task",
    "settlement",
    "kind",
    "work",
    "other",
    "num",
    "den",
    "value",
    "err",
    "text",
]

EDGE, PAYEE, EXPORT = "E", "P", "X"
# Input kinds: value arriving at a work; an event's blended value kept at its
# own work (paid to its payees only); an event's blended value for one source.
VALUE, KEPT, BLEND = "V", "K", "B"
# Output kinds: owed to a payee; exact per-unit share of a chosen creator at a
# work (backward); exact total of a chosen creator in a settlement (backward).
OWED, GSHARE, TOTAL = "O", "G", "T"


def to_ulps(value: Decimal, scale: int) -> int:
    """A ``DECIMAL(38, scale)`` value as an integer number of ulps, exactly."""
    return int(value.scaleb(scale, _CONTEXT))


def from_ulps(ulps: int, scale: int) -> Decimal:
    """An integer number of ulps as a decimal with ``scale`` places, exactly."""
    return Decimal(ulps).scaleb(-scale, _CONTEXT)


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def parse_fraction(text: str) -> Fraction:
    numerator, _, denominator = text.partition("/")
    return Fraction(int(numerator), int(denominator or 1))


# -- pieces -------------------------------------------------------------------


def pieces(frame: pd.DataFrame, tasks: int) -> pd.DataFrame:
    """Tasks for one block's works: ``work, task``.

    ``frame`` has columns ``block, work, other``: one row per work of the
    block (``other`` null) and one per citation inside the block. Works joined
    by citations inside the block form a piece and go to the same task; pieces
    are packed largest first onto the least loaded task (ties by task number),
    so the assignment depends on the block alone.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    works = frame["work"].tolist()
    others = frame["other"].tolist()
    for work in works:
        parent.setdefault(work, work)
    for work, other in zip(works, others, strict=True):
        if other is None or other != other:  # None or NaN: a work row
            continue
        parent.setdefault(other, other)
        a, b = find(work), find(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = {}
    for work in sorted(parent):
        members.setdefault(find(work), []).append(work)
    load = [0] * max(tasks, 1)
    out_work: list[str] = []
    out_task: list[int] = []
    for root in sorted(members, key=lambda r: (-len(members[r]), r)):
        task = min(range(len(load)), key=lambda t: (load[t], t))
        load[task] += len(members[root])
        out_work.extend(members[root])
        out_task.extend([task] * len(members[root]))
    block = int(frame["block"].iloc[0]) if len(frame) else 0
    return pd.DataFrame({"block": block, "work": out_work, "task": out_task})


# -- the block graph ------------------------------------------------------------


@dataclass
class _Node:
    height: int
    # (source, num, den, to_block, to_task); to_block is this block for a source inside it.
    edges: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    # (payee, num, den) of the payee's fraction of the *work's value* (retained x fraction).
    payees: list[tuple[str, int, int]] = field(default_factory=list)
    exports: list[tuple[int, int]] = field(default_factory=list)


def _graph(struct: pd.DataFrame) -> tuple[int, dict[str, _Node]]:
    nodes: dict[str, _Node] = {}
    raw_payees: dict[str, list[tuple[str, Fraction]]] = {}
    block = int(struct["block"].iloc[0]) if len(struct) else -1
    columns = [struct[c].tolist() for c in ("kind", "work", "height", "other", "num", "den")]
    targets = [struct[c].tolist() for c in ("to_block", "to_task")]
    for i, (kind, work, height, other, num, den) in enumerate(zip(*columns, strict=True)):
        node = nodes.get(work)
        if node is None:
            node = nodes[work] = _Node(int(height))
        if kind == EDGE:
            node.edges.append((other, int(num), int(den), int(targets[0][i]), int(targets[1][i])))
        elif kind == PAYEE:
            raw_payees.setdefault(work, []).append((other, Fraction(int(num), int(den))))
        elif kind == EXPORT:
            node.exports.append((int(targets[0][i]), int(targets[1][i])))
    for work, node in nodes.items():
        node.edges.sort()
        retained = 1 - sum((Fraction(n, d) for _, n, d, _, _ in node.edges), Fraction(0))
        if retained:
            for payee, fraction in sorted(raw_payees.get(work, [])):
                part = retained * fraction
                if part:
                    node.payees.append((payee, part.numerator, part.denominator))
    return block, nodes


def _times(value: int, err: int, num: int, den: int) -> tuple[int, int]:
    """``floor(value * num / den)`` and its error bound (one truncation counted)."""
    product, remainder = divmod(value * num, den)
    bound = -((-err * num) // den) + (1 if remainder else 0)
    return product, bound


def _rows(columns: list[str], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.DataFrame(rows, columns=columns)


# -- forward --------------------------------------------------------------------


def _propagate(
    settlement: str,
    arriving: list[tuple[str, str, Any, Any, Any, Any, Any]],
    nodes: dict[str, _Node],
    block: int,
    scale: int,
    owed: dict[tuple[str, str], list[int]],
    flows: dict[tuple[str, str, int, int], list[int]],
) -> None:
    """One settlement's value through one task: works by height, highest first."""
    values: dict[str, list[int]] = {}
    heap: list[tuple[int, str]] = []

    def pay(node: _Node, value: int, err: int) -> None:
        for payee, num, den in node.payees:
            part, bound = _times(value, err, num, den)
            slot = owed.get((settlement, payee))
            if slot is None:
                owed[(settlement, payee)] = [part, bound]
            else:
                slot[0] += part
                slot[1] += bound

    def arrive(work: str, value: int, err: int, to_block: int, to_task: int) -> None:
        if not value and not err:
            return
        if to_block != block:
            slot = flows.get((settlement, work, to_block, to_task))
            if slot is None:
                flows[(settlement, work, to_block, to_task)] = [value, err]
                return
        else:
            slot = values.get(work)
            if slot is None:
                values[work] = [value, err]
                heapq.heappush(heap, (-nodes[work].height, work))
                return
        slot[0] += value
        slot[1] += err

    for kind, work, other, num, den, value, err in arriving:
        node = nodes[work]
        if kind == VALUE:
            arrive(work, to_ulps(value, scale), int(err), block, 0)
        elif kind == KEPT:
            pay(node, to_ulps(value, scale), 0)
        elif kind == BLEND and int(num):
            part, bound = _times(to_ulps(value, scale), 0, int(num), int(den))
            target = next(e for e in node.edges if e[0] == other)
            arrive(other, part, bound, target[3], target[4])
    while heap:
        _, work = heapq.heappop(heap)
        value, err = values.pop(work)
        node = nodes[work]
        pay(node, value, err)
        for source, num, den, to_block, to_task in node.edges:
            part, bound = _times(value, err, num, den)
            arrive(source, part, bound, to_block, to_task)


def forward(struct: pd.DataFrame, inputs: pd.DataFrame, scale: int) -> pd.DataFrame:
    """Propagate the value of every settlement through one task of one block.

    ``struct`` holds the task's works (``STRUCT_COLUMNS``), ``inputs`` the
    value reaching them (``FLOW_COLUMNS``: kinds ``V``, ``K``, ``B``). Works
    are visited from the highest height down, each once per settlement with
    all its value, which every citer inside the block has passed on before:
    so the result is a function of the graph and the injections alone (not of
    how the graph was cut into blocks). Returns ``FLOW_COLUMNS`` rows: ``O``
    (owed to payee ``other``; ``block`` -1) and ``V`` (value for a work of a
    later block).
    """
    block, nodes = _graph(struct)
    owed: dict[tuple[str, str], list[int]] = {}
    flows: dict[tuple[str, str, int, int], list[int]] = {}
    by_settlement: dict[str, list[tuple[str, str, Any, Any, Any, Any, Any]]] = {}
    columns = [
        inputs[c].tolist()
        for c in ("settlement", "kind", "work", "other", "num", "den", "value", "err")
    ]
    for settlement, kind, work, other, num, den, value, err in zip(*columns, strict=True):
        by_settlement.setdefault(settlement, []).append((kind, work, other, num, den, value, err))
    for settlement in sorted(by_settlement):
        _propagate(settlement, by_settlement[settlement], nodes, block, scale, owed, flows)
    rows: list[tuple[Any, ...]] = []
    for (settlement, payee), (value, err) in sorted(owed.items()):
        if value or err:
            rows.append(
                (-1, 0, settlement, OWED, "", payee, None, None, from_ulps(value, scale), err, None)
            )
    for (settlement, work, to_block, to_task), (value, err) in sorted(flows.items()):
        rows.append(
            (
                to_block,
                to_task,
                settlement,
                VALUE,
                work,
                None,
                None,
                None,
                from_ulps(value, scale),
                err,
                None,
            )
        )
    return _rows(FLOW_COLUMNS, rows)


# -- backward (exact) -------------------------------------------------------------


def backward(
    struct: pd.DataFrame, inputs: pd.DataFrame, scale: int, creators: Iterable[str]
) -> pd.DataFrame:
    """Exact entitlements of ``creators`` from one task of one block.

    ``g(w)[c]`` is the exact part of one unit entering ``w`` that ends with
    creator ``c``: ``retained(w) * fraction(w, c)`` plus ``share * g(s)[c]``
    over ``w``'s sources. Works are visited from the lowest height up; ``G``
    inputs carry ``g`` of sources in later blocks. Injections (``V``, ``K``,
    ``B`` inputs, exact integers of micros) times ``g`` give ``T`` rows: each
    chosen creator's exact total per settlement (``text`` = ``num/den``).
    ``G`` rows are returned for works that earlier blocks cite.
    """
    chosen = frozenset(creators)
    block, nodes = _graph(struct)
    unit = 10**scale
    imported: dict[str, dict[str, Fraction]] = {}
    injections: list[tuple[str, str, str, str, Any, Any, Any]] = []
    columns = [
        inputs[c].tolist()
        for c in ("settlement", "kind", "work", "other", "num", "den", "value", "text")
    ]
    for settlement, kind, work, other, num, den, value, text in zip(*columns, strict=True):
        if kind == GSHARE:
            imported.setdefault(work, {})[other] = parse_fraction(text)
        else:
            injections.append((settlement, kind, work, other, num, den, value))
    g: dict[str, dict[str, Fraction]] = {}
    out: list[tuple[Any, ...]] = []
    for work in sorted(nodes, key=lambda w: (nodes[w].height, w)):
        node = nodes[work]
        acc: dict[str, Fraction] = {}
        for payee, num, den in node.payees:
            if payee in chosen:
                acc[payee] = acc.get(payee, Fraction(0)) + Fraction(num, den)
        for source, num, den, to_block, _ in node.edges:
            below = g.get(source) if to_block == block else imported.get(source)
            if below:
                share = Fraction(num, den)
                for creator, part in below.items():
                    acc[creator] = acc.get(creator, Fraction(0)) + share * part
        if acc:
            g[work] = acc
            for to_block, to_task in sorted(set(node.exports)):
                for creator, part in sorted(acc.items()):
                    out.append(
                        (
                            to_block,
                            to_task,
                            "",
                            GSHARE,
                            work,
                            creator,
                            None,
                            None,
                            None,
                            0,
                            _fraction_text(part),
                        )
                    )
    totals: dict[tuple[str, str], Fraction] = {}

    def add(settlement: str, amount: Fraction, shares: Mapping[str, Fraction] | None) -> None:
        for creator, part in (shares or {}).items():
            key = (settlement, creator)
            totals[key] = totals.get(key, Fraction(0)) + amount * part

    for settlement, kind, work, other, num, den, value in injections:
        amount = Fraction(to_ulps(value, scale), unit)
        node = nodes[work]
        if kind == VALUE:
            add(settlement, amount, g.get(work))
        elif kind == KEPT:
            add(settlement, amount, {p: Fraction(n, d) for p, n, d in node.payees if p in chosen})
        elif kind == BLEND and int(num):
            target = next(e for e in node.edges if e[0] == other)
            below = g.get(other) if target[3] == block else imported.get(other)
            add(settlement, amount * Fraction(int(num), int(den)), below)
    for (settlement, creator), total in sorted(totals.items()):
        if total:
            out.append(
                (-1, 0, settlement, TOTAL, "", creator, None, None, None, 0, _fraction_text(total))
            )
    return _rows(FLOW_COLUMNS, out)


# -- rounding ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One creator of a settlement: ``value`` ulps with error ``err``, or the exact value."""

    creator: str
    value: int
    err: int
    exact: Fraction | None = None


def decide(
    total: int, candidates: list[Candidate], scale: int
) -> tuple[dict[str, int] | None, list[str]]:
    """Largest-remainder rounding of one settlement on intervals (DESIGN section 3, step 6).

    Each creator's exact entitlement (micros) lies in ``[value, value + err]``
    ulps, or is ``exact``. Returns ``(micros, [])`` when the intervals settle
    every floor and the cut-off, else ``(None, creators)``: those whose exact
    value is needed first. With exact values for all, the result is
    :func:`hitrack.domain.money.allocate`'s: floors, then one micro each to the
    largest remainders, ties by creator id.

    The cut-off is decided as follows. Sorted by (lower remainder descending,
    id), the first ``R`` are *in*. Let ``L`` be the lowest lower end among
    them and ``H`` the highest upper end among the rest. An *in* creator with
    lower end above ``H`` is truly above every other creator, so it is in; an
    *out* creator with upper end below ``L`` is truly below every *in* one, so
    it is out. Exactly known creators are ordered exactly by the sort. So the
    split is right unless an inexact creator is *in* with lower end at most
    ``H`` or *out* with upper end at least ``L``: those are asked for.
    """
    unit = 10**scale
    floors: dict[str, int] = {}
    # Remainders in ulps: plain integers, or exact fractions where known exactly.
    low: dict[str, Fraction | int] = {}
    high: dict[str, Fraction | int] = {}
    inexact: set[str] = set()
    needed: list[str] = []
    for cand in candidates:
        if cand.exact is not None:
            floor = cand.exact.numerator // cand.exact.denominator
            floors[cand.creator] = floor
            low[cand.creator] = high[cand.creator] = (cand.exact - floor) * unit
            continue
        floor, floor_high = cand.value // unit, (cand.value + cand.err) // unit
        if floor != floor_high:
            needed.append(cand.creator)
            continue
        floors[cand.creator] = floor
        low[cand.creator] = cand.value - floor * unit
        high[cand.creator] = cand.value + cand.err - floor * unit
        if cand.err:
            inexact.add(cand.creator)
    if needed:
        return None, sorted(needed)
    remaining = total - sum(floors.values())
    if not 0 <= remaining < max(len(floors), 1):
        raise ArithmeticError(
            f"rounding: {remaining} micros left over among {len(floors)} creators"
        )
    if remaining == 0:
        return floors, []
    order = sorted(floors, key=lambda c: (-low[c], c))
    winners, losers = order[:remaining], order[remaining:]
    lowest_in = low[winners[-1]]
    highest_out = max(high[c] for c in losers)
    unsure = [c for c in winners if c in inexact and low[c] <= highest_out]
    unsure += [c for c in losers if c in inexact and high[c] >= lowest_in]
    if unsure:
        return None, sorted(unsure)
    for c in winners:
        floors[c] += 1
    return floors, []
