"""Batch settlement on the compact graph: events as columns, one whole-graph propagation.

Fees and recoups are computed per event, in exact int64 arithmetic where it
provably fits; each creator's entitlement is the sum over the batch, rounded
once on the batch's total distributable (DESIGN section 3, step 8). In a
batch, a creator paid only by works that nothing flows into is settled from
integers directly (such a work's value is exactly what was injected), which
spares the recomputation the exact whole and half micros intervals can never
settle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from hitrack.domain.errors import InvalidEvent, InvalidInput, UnknownWork
from hitrack.domain.fast.arrays import I64, LD, UNIT, Rationals, gather_rows, to_longdouble
from hitrack.domain.fast.compact import CompactGraph
from hitrack.domain.fast.event import CompactEvents, blend_of
from hitrack.domain.fast.exact import Injection
from hitrack.domain.fast.layout import INJECT_ROUNDINGS
from hitrack.domain.fast.propagation import Products, propagate_levels
from hitrack.domain.fast.rounding import KnownExactly, finish
from hitrack.domain.settlement import (
    BatchSettlement,
    BatchTotals,
    RevenueEvent,
    prepare_event,
    prepare_events,
    split_recouped,
)

__all__ = ["settle_batch", "settle_batch_arrays"]


@dataclass
class _Batch:
    """A batch's events after steps 1-3: their totals, and what enters the graph where."""

    totals: BatchTotals
    plain_work: I64
    plain_amount: I64
    blended: list[Injection]


_NUMERATOR = attrgetter("numerator")
_DENOMINATOR = attrgetter("denominator")
_INT64_MAX = int(np.iinfo(np.int64).max)


def _split_arrays(amount: I64, costs: I64, fee_num: I64, fee_den: I64) -> tuple[I64, I64, I64]:
    """Steps 1-2 for many events: ``(recouped, fee, distributable)``, exact integers.

    ``fee = floor(profit * num / den)`` in int64 where the product provably
    fits, in Python integers where it might not.
    """
    recouped = np.minimum(amount, costs)
    profit = amount - recouped
    fee = np.zeros(profit.size, np.int64)
    fits = profit <= _INT64_MAX // np.maximum(fee_num, 1)
    fee[fits] = profit[fits] * fee_num[fits] // fee_den[fits]
    for i in np.flatnonzero(~fits).tolist():
        fee[i] = int(profit[i]) * int(fee_num[i]) // int(fee_den[i])
    return recouped, fee, profit - fee


def _recoup_totals(cg: CompactGraph, works: I64, recouped: I64) -> dict[str, int]:
    """Each owner's recoups summed over many events, each event split as
    :func:`~hitrack.domain.settlement.split_recouped` splits it (floors, then the
    leftover micros by largest remainder, ties by id).

    Recoups go to owners only: a work with a credit pool has its owners in the
    credit table, any other work's owners are its payees. Vectorised over one
    common denominator per event where everything provably fits in int64; any
    other event goes through ``split_recouped`` itself.
    """
    keep = recouped > 0
    works, recouped = works[keep], recouped[keep]
    if not works.size:
        return {}
    summed = np.zeros(len(cg.creators), np.int64)
    row = cg.credit_rows(works)
    plain = row < 0
    payees, credits = cg.payees, cg.credits
    by_payees = (payees.ptr, payees.payee, payees.share)
    by_credits = (credits.owner_ptr, credits.owner, credits.ownership)
    slow = [
        *_add_recoups(cg, summed, by_payees, works[plain], works[plain], recouped[plain]),
        *_add_recoups(cg, summed, by_credits, row[~plain], works[~plain], recouped[~plain]),
    ]
    names = cg.creator_names
    totals = {names[c]: int(summed[c]) for c in np.flatnonzero(summed).tolist()}
    for work, micros in slow:
        for owner, m in split_recouped(cg.owners_of(work), micros).items():
            totals[owner] = totals.get(owner, 0) + m
    return dict(sorted(totals.items()))


def _add_recoups(
    cg: CompactGraph,
    summed: I64,
    owners: tuple[I64, npt.NDArray[np.int32], Rationals],
    rows: I64,
    works: I64,
    recouped: I64,
) -> list[tuple[int, int]]:
    """Add to ``summed`` each event's recoup split among its owners, rows ``rows`` of ``owners``.

    ``owners`` is a CSR ``(ptr, owner, ownership)``; returns the events that
    do not provably fit (their work position and micros), left to Python.
    """
    ptr, person, fraction = owners
    if not rows.size:
        return []
    per_event = ptr[rows + 1] - ptr[rows]
    entries = gather_rows(ptr, rows)
    group = np.repeat(np.arange(rows.size), per_event)
    first = np.cumsum(per_event) - per_event
    num, den = fraction.num[entries], fraction.den[entries]
    safe_den = np.where(den > 0, den, 1)
    # The event's common denominator divides the product of its owners'
    # denominators; amount * product < 2**61 keeps every product below in range.
    magnitude = np.add.reduceat(np.log2(safe_den.astype(np.float64)), first)
    magnitude += np.log2(recouped.astype(np.float64))
    fits = (magnitude < 61) & (np.minimum.reduceat(den, first) > 0)
    if float(recouped.astype(np.float64).sum()) >= 2**61:
        fits[:] = False
    fits_entry = fits[group]
    num = np.where(fits_entry, num, 0)
    safe_den = np.where(fits_entry, safe_den, 1)
    common = np.lcm.reduceat(safe_den, first)[group]
    exact_times_common = recouped[group] * (num * (common // safe_den))
    floors = exact_times_common // common
    remainders = exact_times_common - floors * common
    leftover = recouped - np.add.reduceat(floors, first)
    owner = person[entries].astype(np.int64)
    order = np.lexsort((cg.creator_rank[owner], -remainders, group))
    bonus = np.zeros(entries.size, np.int64)
    place = np.arange(entries.size) - first[group[order]]
    bonus[order] = place < leftover[group[order]]
    micros = np.where(fits_entry, floors + bonus, 0)
    np.add.at(summed, owner, micros)
    unfit = np.flatnonzero(~fits)
    return list(zip(works[unfit].tolist(), recouped[unfit].tolist(), strict=True))


def _batch_of_arrays(
    cg: CompactGraph,
    starts: I64,
    amount: I64,
    costs: I64,
    fee_num: I64,
    fee_den: I64,
    special: Mapping[int, RevenueEvent] | None = None,
) -> _Batch:
    """A batch from validated columns; ``special`` maps positions to events with attribution."""
    recouped, fee, distributable = _split_arrays(amount, costs, fee_num, fee_den)
    plain = distributable > 0
    blended: list[Injection] = []
    for i, event in (special or {}).items():
        if distributable[i]:
            blend = blend_of(cg, int(starts[i]), event)
            if blend is not None:
                blended.append((int(starts[i]), int(distributable[i]), blend))
                plain[i] = False
    totals = BatchTotals(
        events=int(starts.size),
        amount=sum(amount.tolist()),
        fee=sum(fee.tolist()),
        distributable=sum(distributable.tolist()),
        recouped=_recoup_totals(cg, starts, recouped),
    )
    return _Batch(
        totals=totals,
        plain_work=starts[plain],
        plain_amount=distributable[plain],
        blended=blended,
    )


def _prepare_columns(cg: CompactGraph, events: Sequence[RevenueEvent]) -> _Batch | None:
    """The batch's events as columns, checked in bulk; None when any event needs
    the event-by-event path (an invalid or unusual event: that path raises the
    same error the exact engine would, for the same event)."""
    count = len(events)
    if not count:
        return None
    try:
        # One list per field: much faster than transposing tuples of fields.
        ids = [event.id for event in events]
        works = [event.work for event in events]
        amounts = [event.amount for event in events]
        costs = [event.costs for event in events]
        rates = [event.fee_rate for event in events]
        attributions = [event.attribution for event in events]
    except AttributeError:
        return None
    if set(map(type, ids)) != {str} or set(map(type, rates)) != {Fraction}:
        return None
    if set(map(type, amounts)) != {int} or set(map(type, costs)) != {int}:
        return None
    id_set = set(ids)
    if len(id_set) != count or "" in id_set:
        return None
    if set(map(type, works)) != {str}:
        return None
    starts = cg.positions_of(works)
    try:
        amount = np.array(amounts, np.int64)
        cost = np.array(costs, np.int64)
        fee_num = np.fromiter(map(_NUMERATOR, rates), np.int64, count)
        fee_den = np.fromiter(map(_DENOMINATOR, rates), np.int64, count)
    except OverflowError:
        return None
    if (starts < 0).any() or (amount < 0).any() or (cost < 0).any():
        return None
    if (fee_num < 0).any() or (fee_num > fee_den).any():
        return None
    special = {i: events[i] for i, a in enumerate(attributions) if a is not None}
    graph = CompactEvents(cg)
    for event in special.values():
        prepare_event(graph, event)  # the model and manifest rules; raises on the first bad one
    return _batch_of_arrays(cg, starts, amount, cost, fee_num, fee_den, special)


def _prepare_events(cg: CompactGraph, events: Iterable[RevenueEvent]) -> _Batch:
    """The batch event by event, through the engines' shared preparation (the exact engine's order)."""
    totals = BatchTotals()
    plain_work: list[int] = []
    plain_amount: list[int] = []
    blended: list[Injection] = []
    for prepared in prepare_events(CompactEvents(cg), events):
        totals.add(prepared)
        if not prepared.distributable:
            continue
        start = cg.work_index[prepared.event.work]
        blend = blend_of(cg, start, prepared.event)
        if blend is None:
            plain_work.append(start)
            plain_amount.append(prepared.distributable)
        else:
            blended.append((start, prepared.distributable, blend))
    if max(plain_amount, default=0) >= 2**62 or sum(plain_amount) >= 2**62:
        raise InvalidInput("batch too large for one settlement (above 2**62 micros); split it")
    return _Batch(
        totals=totals,
        plain_work=np.array(plain_work, np.int64),
        plain_amount=np.array(plain_amount, np.int64),
        blended=blended,
    )


def _direct_entitlements(
    cg: CompactGraph, creator_idx: I64, reached: I64, fed: npt.NDArray[np.bool_]
) -> KnownExactly:
    """Exact entitlements of the creators paid only by works nothing flows into.

    Such a work's value is exactly the integer injected into it (``reached``),
    so its owners' entitlements are sums of integers times their exact
    ownership and retained fractions. They are computed here over one common
    denominator, in int64 wherever that provably fits; every other creator is
    left to the intervals. These are the entitlements floats most often cannot
    settle: exact whole or half micros sit on a rounding boundary.
    """
    payees = cg.payees
    creator_count = len(cg.creators)
    retains = cg.works.retained.nonzero()
    paying = ((reached > 0) | fed) & retains
    excluded = np.zeros(creator_count, bool)
    excluded[payees.payee[np.repeat(paying & fed, np.diff(payees.ptr))]] = True
    direct = np.flatnonzero(paying & ~fed)
    entries = gather_rows(payees.ptr, direct)
    work = np.repeat(direct, payees.ptr[direct + 1] - payees.ptr[direct])
    creator = payees.payee[entries]
    own_num, own_den = payees.share.num[entries], payees.share.den[entries]
    ret_num, ret_den = cg.works.retained.num[work], cg.works.retained.den[work]
    huge = (own_den == 0) | (ret_den == 0) | (own_den > _INT64_MAX // np.maximum(ret_den, 1))
    excluded[creator[huge]] = True
    den = np.where(huge, 1, own_den * np.where(huge, 1, ret_den))
    common = 1
    for d in np.unique(den).tolist():
        grown = common * d // gcd(common, d)
        if grown >= 2**62:
            # Keep the common denominator in range: these go to the intervals.
            huge |= den == d
            excluded[creator[den == d]] = True
        else:
            common = grown
    # (own / own_den) * (ret / ret_den) * common <= common: each factor fits.
    coefficient = np.where(huge, 0, own_num * (ret_num * (common // den)))
    amount = reached[work]
    fits = amount <= (2**62) // np.maximum(coefficient, 1)
    excluded[creator[~fits]] = True
    terms = np.where(fits, amount * coefficient, 0)
    approx = np.bincount(creator, weights=terms.astype(np.float64), minlength=creator_count)
    excluded |= approx >= 2**61  # the int64 sum below could overflow
    numerators = np.zeros(creator_count, np.int64)
    np.add.at(numerators, creator, terms)
    return KnownExactly(~excluded[creator_idx], numerators[creator_idx], common)


def _settle_prepared(cg: CompactGraph, batch: _Batch) -> BatchSettlement:
    """Propagate a prepared batch over the whole graph and round it once (step 8)."""
    payees = cg.payees
    if batch.plain_amount.size and (
        int(batch.plain_amount.max()) >= 2**62 or sum(batch.plain_amount.tolist()) >= 2**62
    ):
        raise InvalidInput("batch too large for one settlement (above 2**62 micros); split it")
    injected = np.zeros(cg.work_count, np.int64)
    np.add.at(injected, batch.plain_work, batch.plain_amount)
    value = injected.astype(LD)
    fed = np.zeros(cg.work_count, bool)
    # Integer value paid at a work without passing along its citations: a
    # blended model's own event value (its retained part is paid from that).
    reached_int = injected
    rounded_injections: dict[int, int] = {}
    if batch.blended:
        extra = np.zeros(cg.work_count, np.int64)
        for work, event_amount, blend in batch.blended:
            assert blend is not None
            extra[work] += event_amount
            for source, share in blend.items():
                portion = event_amount * share
                value[source] += to_longdouble(portion.numerator, portion.denominator)
                rounded_injections[source] = rounded_injections.get(source, 0) + 1
        # A blended model injects into its sources directly, so its own citations
        # carry only the plain events' value (a separate pass keeps that exact).
        fed[list(rounded_injections)] = True
        reached_int = injected + extra
    propagate_levels(cg, value, 0, fed)
    # The error bounds assume no product underflows: they are all at least the
    # smallest positive value times the smallest factor, so check that.
    smallest = np.min(value, where=value > 0, initial=np.inf)
    if smallest * cg.min_factor <= 2 * np.finfo(LD).tiny:
        raise InvalidInput(
            "values too small for the fast engine's error bound; use the exact engine"
        )
    reached = value + (reached_int - injected).astype(LD) if batch.blended else value
    estimate = np.zeros(len(cg.creators), LD)
    owning = np.flatnonzero(np.diff(payees.by_payee_ptr) > 0)
    if owning.size:
        chunks = Products().chunks(
            reached,
            payees.by_payee_work,
            payees.by_payee_weight,
            payees.by_payee_ptr[owning],
            payees.by_payee_work.size,
        )
        for a, b, sums in chunks:
            estimate[owning[a:b]] = sums
    creator_idx = np.flatnonzero(estimate > 0).astype(np.int64)
    inject_bound = (max(rounded_injections.values(), default=0) + INJECT_ROUNDINGS) * UNIT
    bound = cg.bounds.payee[creator_idx] + inject_bound

    def injections(among: npt.NDArray[np.bool_]) -> list[Injection]:
        chosen = np.flatnonzero(among & (injected != 0))
        listed: list[Injection] = [
            (w, a, None) for w, a in zip(chosen.tolist(), injected[chosen].tolist(), strict=True)
        ]
        return listed + batch.blended

    live = (value > 0) | (reached_int > injected) if batch.blended else value > 0
    sure = _direct_entitlements(cg, creator_idx, reached_int, fed)
    creators, entitlements = finish(
        cg,
        batch.totals.distributable,
        creator_idx,
        estimate[creator_idx],
        bound,
        injections,
        live,
        sure,
    )
    return batch.totals.settlement(creators, entitlements)


def settle_batch(cg: CompactGraph, events: Iterable[RevenueEvent]) -> BatchSettlement:
    """Settle many events as one batch with a single whole-graph propagation.

    Fees and recoups are computed per event; each creator's entitlement is the
    sum over the batch, rounded once on the batch's total distributable
    (DESIGN section 3, step 8). The events are read as columns and checked in
    bulk; a batch with any invalid event is checked event by event instead,
    and raises the exact engine's error for the first bad event.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1, 2), "b": Fraction(1, 2)})])
    >>> b = settle_batch(CompactGraph.from_graph(G), [RevenueEvent("e1", "r1", 1),
    ...                                              RevenueEvent("e2", "r1", 2)])
    >>> b.creators
    {'a': 2, 'b': 1}
    """
    listed = events if isinstance(events, Sequence) else list(events)
    batch = _prepare_columns(cg, listed)
    if batch is None:
        batch = _prepare_events(cg, listed)
    return _settle_prepared(cg, batch)


def settle_batch_arrays(
    cg: CompactGraph,
    works: Sequence[str] | npt.NDArray[np.str_],
    amounts: npt.ArrayLike,
    costs: npt.ArrayLike | None = None,
    fee_num: npt.ArrayLike | None = None,
    fee_den: npt.ArrayLike | None = None,
) -> BatchSettlement:
    """Settle a batch given as columns: event ``i`` earns ``amounts[i]`` at ``works[i]``.

    The same settlement as :func:`settle_batch` on the equivalent events
    without attribution: ``costs`` default to 0 and the fee rate of event
    ``i`` is ``fee_num[i] / fee_den[i]`` (default 0). Columns carry no event
    ids, so there is no duplicate check; amounts are int64 micros.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1, 2), "b": Fraction(1, 2)})])
    >>> settle_batch_arrays(CompactGraph.from_graph(G), ["r1", "r1"], [1, 2]).creators
    {'a': 2, 'b': 1}
    """
    count = len(works)

    def column(values: npt.ArrayLike | None, default: int, name: str) -> I64:
        if values is None:
            return np.full(count, default, np.int64)
        array = np.asarray(values)
        if array.shape != (count,) or (array.size and array.dtype.kind not in "iu"):
            raise InvalidEvent(f"{name} must be {count} integers, one per event")
        if array.dtype.kind == "u" and array.size and int(array.max()) > _INT64_MAX:
            raise InvalidEvent(f"{name} must fit in int64")
        return array.astype(np.int64)

    amount = column(amounts, 0, "amounts")
    cost = column(costs, 0, "costs")
    num = column(fee_num, 0, "fee_num")
    den = column(fee_den, 1, "fee_den")
    work_list = works.tolist() if isinstance(works, np.ndarray) else list(works)
    if set(map(type, work_list)) - {str}:
        raise InvalidEvent("works must be work ids (strings)")
    starts = cg.positions_of(work_list)
    if (starts < 0).any():
        i = int(np.flatnonzero(starts < 0)[0])
        raise UnknownWork(f"event {i}: unknown work {work_list[i]}", ids=(str(work_list[i]),))
    checks = (
        ("amount is negative", amount < 0),
        ("costs are negative", cost < 0),
        ("fee_rate is outside [0, 1]", (den <= 0) | (num < 0) | (num > den)),
    )
    for problem, bad in checks:
        if bad.any():
            raise InvalidEvent(f"event {int(np.flatnonzero(bad)[0])}: {problem}")
    return _settle_prepared(cg, _batch_of_arrays(cg, starts, amount, cost, num, den))
