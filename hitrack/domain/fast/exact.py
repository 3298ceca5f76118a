"""Exact recomputation: a few creators' entitlements in rational arithmetic.

When the error bounds cannot settle a creator's floor or side of the rounding
cut-off, that creator's entitlement is recomputed here exactly, over only the
works that can reach the creator's works; the micros are therefore always
those of the exact engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from hitrack.domain.fast.compact import CompactGraph

__all__ = ["Injection", "exact_entitlements", "identical_holdings"]

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
    for work, amount, blend in injections(reach) if callable(injections) else injections:
        if not amount or not reach[work]:
            continue
        shares = per_unit.get(work, {}) if blend is None else unit_share(work, blend)
        for c, value in shares.items():
            totals[c] += amount * value
    return totals


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
