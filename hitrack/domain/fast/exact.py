"""Exact recomputation: a few creators' entitlements in rational arithmetic.

When the error bounds cannot settle a creator's floor or side of the rounding
cut-off, that creator's entitlement is recomputed here exactly, over only the
works that can reach the creator's works; the micros are therefore always
those of the exact engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import cast

import numpy as np
import numpy.typing as npt
from gmpy2 import mpq

from hitrack.domain.fast.arrays import Rationals
from hitrack.domain.fast.compact import CompactGraph

ZERO = mpq(0)

__all__ = ["Injection", "exact_entitlements", "identical_holdings", "FORWARD_FROM"]

FORWARD_FROM = 16
"""Above this many creators, entitlements come from one forward propagation (:func:`_forward`)."""

# Value entering the graph: (work position, exact micros, the work's blended
# shares for this event or None for its own citations).
Injection = tuple[int, int, "dict[int, Fraction] | None"]


def exact_entitlements(
    cg: CompactGraph,
    injections: Sequence[Injection] | Callable[[npt.NDArray[np.bool_]], Sequence[Injection]],
    creators: Iterable[int],
    restrict: npt.NDArray[np.bool_] | None = None,
) -> dict[int, Fraction]:
    """Exact entitlements (micros) of a few creators, in rational arithmetic.

    ``injections`` are ``(work, distributable, blended_shares_or_None)``, or a
    function giving those (at least) at the works a boolean mask selects. Only
    the works that can reach one of the creators' works are visited, from the
    roots of the graph down: ``per_unit[x]`` is the part of one unit entering
    ``x`` that ends with each chosen creator. ``restrict`` may exclude works
    that carry no value in this settlement (nothing flows through them), which
    keeps the walk small.
    """
    wanted = sorted(set(int(c) for c in creators))
    if not wanted:
        return {}
    chosen = set(wanted)
    payees = cg.payees
    holdings = payees.by_payee_work
    owned = np.concatenate(
        [holdings[payees.by_payee_ptr[c] : payees.by_payee_ptr[c + 1]] for c in wanted]
    )
    reach = cg.citers_mask(owned, restrict)
    listed = injections(reach) if callable(injections) else injections
    if len(wanted) > FORWARD_FROM:
        return _forward(cg, listed, wanted, reach)
    per_unit: dict[int, dict[int, Fraction]] = {}

    def unit_share(x: int, shares: Mapping[int, Fraction] | None) -> dict[int, Fraction]:
        acc: dict[int, Fraction] = {}
        retained = cg.works.retained[x]
        if retained:
            for k in range(int(payees.ptr[x]), int(payees.ptr[x + 1])):
                c = int(payees.payee[k])
                if c in chosen:
                    acc[c] = acc.get(c, Fraction(0)) + payees.share[k] * retained
        hops = cg.sources_of(x) if shares is None else shares
        for s, share in hops.items():
            below = per_unit.get(s)
            if below:
                for c, value in below.items():
                    acc[c] = acc.get(c, Fraction(0)) + share * value
        return acc

    # Sources have higher positions than their citers: descending order visits
    # every source before any work that cites it.
    for x in np.flatnonzero(reach)[::-1].tolist():
        acc = unit_share(x, None)
        if acc:
            per_unit[x] = acc
    totals = {c: Fraction(0) for c in wanted}
    for work, amount, blend in listed:
        if not amount or not reach[work]:
            continue
        shares = per_unit.get(work, {}) if blend is None else unit_share(work, blend)
        for c, value in shares.items():
            totals[c] += amount * value
    return totals


def _ranges(ptr: npt.NDArray[np.int64], positions: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
    """The entries ``ptr[x]:ptr[x + 1]`` of every position, one after the other."""
    starts = ptr[positions]
    counts = ptr[positions + 1] - starts
    offsets = np.cumsum(counts) - counts
    entries: npt.NDArray[np.int64] = np.arange(int(counts.sum()), dtype=np.int64)
    entries -= np.repeat(offsets - starts, counts)
    return entries


def _rationals(column: Rationals, entries: npt.NDArray[np.int64]) -> list[mpq]:
    """``column``'s values at ``entries`` as GMP rationals, read as whole columns."""
    nums, dens = column.num[entries].tolist(), column.den[entries].tolist()
    out = [mpq(n, d) if d else None for n, d in zip(nums, dens, strict=True)]
    for k in (k for k, d in enumerate(dens) if not d):
        value = column.overflow[int(entries[k])]
        out[k] = mpq(value.numerator, value.denominator)
    return cast(list[mpq], out)


def _q(value: Fraction) -> mpq:
    return mpq(value.numerator, value.denominator)


def _forward(
    cg: CompactGraph,
    injections: Iterable[Injection],
    wanted: list[int],
    reach: npt.NDArray[np.bool_],
) -> dict[int, Fraction]:
    """Many creators' exact entitlements by one exact propagation of the value itself.

    The value entering each work is carried from citers to sources (positions
    ascending: every citer before its sources), and each chosen payee collects
    its part of a work's retained value. One rational operation per citation
    and payee of the reached works, however many creators are chosen, where
    carrying every creator's unit share upwards costs that times the creators
    below each work. The same rationals as :func:`exact_entitlements`'s walk,
    computed in GMP rationals (gmpy2, exact and about ten times faster than
    :class:`~fractions.Fraction`) over the reached works' columns read at once.
    """
    chosen = set(wanted)
    payees = cg.payees
    citations = cg.citations
    positions = np.flatnonzero(reach)
    cite = _ranges(citations.ptr, positions)
    cite_ptr = np.concatenate(
        ([0], np.cumsum(citations.ptr[positions + 1] - citations.ptr[positions]))
    )
    cite_source = citations.source[cite].tolist()
    cite_share = _rationals(citations.share, cite)
    cite_live = reach[citations.source[cite]].tolist()
    pay = _ranges(payees.ptr, positions)
    pay_ptr = np.concatenate(([0], np.cumsum(payees.ptr[positions + 1] - payees.ptr[positions])))
    pay_creator = payees.payee[pay].tolist()
    pay_share = _rationals(payees.share, pay)
    retained = _rationals(cg.works.retained, positions.astype(np.int64))
    inflow: dict[int, mpq] = {}
    blended: dict[int, list[tuple[int, Mapping[int, Fraction]]]] = {}
    for work, amount, blend in injections:
        if not amount or not reach[work]:
            continue
        if blend is None:
            inflow[work] = inflow.get(work, ZERO) + amount
        else:
            blended.setdefault(work, []).append((amount, blend))
    totals = {c: ZERO for c in wanted}
    for i, x in enumerate(positions.tolist()):
        value = inflow.pop(x, None)
        extra = blended.pop(x, ())
        if value is None and not extra:
            continue
        here = (value or ZERO) + sum(amount for amount, _ in extra)
        if retained[i] and here:
            kept = here * retained[i]
            for k in range(int(pay_ptr[i]), int(pay_ptr[i + 1])):
                c = pay_creator[k]
                if c in chosen:
                    totals[c] += pay_share[k] * kept
        if value:
            for e in range(int(cite_ptr[i]), int(cite_ptr[i + 1])):
                if cite_live[e]:
                    s = cite_source[e]
                    inflow[s] = inflow.get(s, ZERO) + value * cite_share[e]
        for amount, blended_shares in extra:
            for s, share in blended_shares.items():
                if reach[s]:
                    inflow[s] = inflow.get(s, ZERO) + amount * _q(share)
    return {c: Fraction(int(v.numerator), int(v.denominator)) for c, v in totals.items()}


def identical_holdings(
    cg: CompactGraph, creators: list[int], live: npt.NDArray[np.bool_] | None
) -> bool:
    """Whether these creators own the same valued works in the same fractions."""
    payees = cg.payees

    def holdings(c: int) -> list[tuple[int, Fraction]]:
        out = []
        start, stop = payees.by_payee_ptr[c], payees.by_payee_ptr[c + 1]
        for w in payees.by_payee_work[start:stop].tolist():
            if live is not None and not live[w]:
                continue
            for k in range(int(payees.ptr[w]), int(payees.ptr[w + 1])):
                if int(payees.payee[k]) == c:
                    out.append((w, payees.share[k]))
        return out

    first = holdings(creators[0])
    return all(holdings(c) == first for c in creators[1:])
