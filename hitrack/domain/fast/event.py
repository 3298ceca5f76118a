"""Settling one event on the compact graph: only its ancestry is touched."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from hitrack.domain.credit import (
    EventSettlement,
    Explanation,
    RevenueEvent,
    blended_shares,
    check_event_fields,
    explain,
    split_event,
)
from hitrack.domain.fast.arrays import (
    _INJECT_ROUNDINGS,
    LD,
    UNIT,
    Injection,
    _gather_rows,
    _to_ld,
)
from hitrack.domain.fast.compact import CompactGraph
from hitrack.domain.fast.rounding import _finish
from hitrack.domain.graph import KINDS
from hitrack.domain.money import allocate


def _event_work(cg: CompactGraph, event: RevenueEvent) -> int:
    index = cg.index_of(event.work)
    kind = None if index is None else KINDS[int(cg.kinds[index])]
    manifest = cg.manifest(index) if index is not None and event.attribution is not None else ()
    check_event_fields(event, kind, manifest)
    assert index is not None
    return index


def _blend(cg: CompactGraph, work: int, event: RevenueEvent) -> dict[int, Fraction] | None:
    if event.attribution is None:
        return None
    weight = cg.attribution_weight(work)
    if weight == 0:
        return None
    position = {str(cg.ids[s]): s for s in cg.sources(work)}
    shares = {str(cg.ids[s]): share for s, share in cg.sources(work).items()}
    blended = blended_shares(shares, weight, event.attribution)
    return {position[s]: share for s, share in blended.items()}


def _recouped(cg: CompactGraph, work: int, recouped: int) -> dict[str, int]:
    if not recouped:
        return {}
    owners = cg.owners(work)
    if len(owners) == 1:
        return {next(iter(owners)): recouped}
    split = allocate(recouped, {o: recouped * f for o, f in owners.items()})
    return {o: m for o, m in sorted(split.items()) if m}


def settle_event(cg: CompactGraph, event: RevenueEvent) -> EventSettlement:
    """Settle one event over the arrays of ``cg``; same micros as the exact engine.

    Only the event's ancestry is touched: it is marked by a breadth-first walk,
    and its citations are propagated level by level.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> s = settle_event(CompactGraph.from_graph(G), RevenueEvent("e1", "p1", 1_000_000))
    >>> s.creators
    {'alice': 300000, 'dana': 700000}
    """
    start = _event_work(cg, event)
    recouped, fee, distributable = split_event(event)

    def explainer(creator: str) -> list[Explanation]:
        sub = cg.to_graph(np.flatnonzero(cg.ancestry_mask(start)).tolist())
        return explain(sub, event, creator)

    def settlement(
        creators: dict[str, int], entitlements: Mapping[str, Fraction]
    ) -> EventSettlement:
        return EventSettlement(
            event_id=event.id,
            work=event.work,
            amount=event.amount,
            recouped=_recouped(cg, start, recouped),
            fee=fee,
            distributable=distributable,
            creators=creators,
            entitlements=entitlements,
            _explainer=explainer,
        )

    if not distributable:
        return settlement({}, {})
    mask = cg.ancestry_mask(start)
    nodes = np.flatnonzero(mask)
    blend = _blend(cg, start, event)
    # Everything below is indexed within the ancestry (sorted, so positions
    # map back by binary search): nothing here costs time in the graph's size.
    value = np.zeros(nodes.size, LD)
    kept_extra = LD(0)
    if blend is None:
        value[0] = distributable  # the event's work has the lowest level of its ancestry
        rows = nodes
    else:
        # The model passes this event's value along its blended shares; its
        # own retained part is paid from the event value directly.
        for source, share in blend.items():
            portion = distributable * share
            value[np.searchsorted(nodes, source)] += _to_ld(portion.numerator, portion.denominator)
        kept_extra = LD(distributable)
        rows = nodes[1:]
    positions = np.sort(cg.csr_to_t[_gather_rows(cg.indptr, rows)])
    if positions.size:
        targets = cg.t_target[positions]
        edge_level = np.searchsorted(cg.level_edge_ptr, positions, "right") - 1
        starts_mask = np.ones(positions.size, bool)
        starts_mask[1:] = (targets[1:] != targets[:-1]) | (edge_level[1:] != edge_level[:-1])
        seg = np.flatnonzero(starts_mask)
        local_row = np.searchsorted(nodes, cg.t_row[positions])
        local_target = np.searchsorted(nodes, targets[seg])
        level_bounds = np.searchsorted(positions, cg.level_edge_ptr)
        seg_bounds = np.searchsorted(seg, level_bounds)
        for lv in range(int(cg.level[start]), cg.level_count):
            lo, hi = level_bounds[lv], level_bounds[lv + 1]
            if lo == hi:
                continue
            contributions = cg.t_share[positions[lo:hi]] * value[local_row[lo:hi]]
            s0, s1 = seg_bounds[lv], seg_bounds[lv + 1]
            value[local_target[s0:s1]] += np.add.reduceat(contributions, seg[s0:s1] - lo)
    entries = _gather_rows(cg.own_ptr, nodes)
    per_work = cg.own_ptr[nodes + 1] - cg.own_ptr[nodes]
    reached = np.repeat(value, per_work)
    reached[: per_work[0]] += kept_extra
    amounts = cg.own_weight[entries] * reached
    entry_creator = cg.own_creator[entries]
    order = np.argsort(entry_creator, kind="stable")
    entry_creator, amounts = entry_creator[order], amounts[order]
    first = np.flatnonzero(np.r_[True, entry_creator[1:] != entry_creator[:-1]])
    creator_idx = entry_creator[first].astype(np.int64)
    estimate = np.add.reduceat(amounts, first)
    keep = estimate > 0
    creator_idx, estimate = creator_idx[keep], estimate[keep]
    injections: list[Injection] = [(start, distributable, blend)]
    rho = cg.rho_creator[creator_idx] + _INJECT_ROUNDINGS * UNIT
    live = np.zeros(cg.work_count, bool)
    live[nodes[value > 0]] = True
    live[start] = True
    return settlement(
        *_finish(cg, distributable, creator_idx, estimate, rho, lambda _: injections, live)
    )
