"""Rounding on intervals: largest remainder decided from estimates and their error bounds.

Rounding (DESIGN section 3, step 6) is decided on intervals ``estimate ± bound``:
a creator whose floor, or whose place around the largest-remainder cut-off,
the interval cannot settle has its entitlement recomputed exactly
(:func:`~hitrack.domain.fast.exact.exact_entitlements`). The micros are
therefore always those of the exact engine; only the time differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from hitrack.domain.errors import InvalidInput
from hitrack.domain.fast.arrays import F64, I64, LD, LDA, UNIT, to_longdouble
from hitrack.domain.fast.compact import CompactGraph
from hitrack.domain.fast.exact import Injection, exact_entitlements, identical_holdings
from hitrack.domain.fast.layout import SLACK
from hitrack.domain.money import allocate

__all__ = ["KnownExactly", "round_on_intervals", "LazyEntitlements", "finish"]


@dataclass(frozen=True)
class KnownExactly:
    """Entitlements known exactly without recomputation: ``numerators / denominator``
    at the positions where ``mask`` is set (one common denominator)."""

    mask: npt.NDArray[np.bool_]
    numerators: I64
    denominator: int

    def value(self, position: int) -> Fraction:
        return Fraction(int(self.numerators[position]), self.denominator)


def round_on_intervals(
    total: int,
    estimate: LDA,
    bound: LDA,
    order_key: I64,
    exact: Callable[[list[int]], dict[int, Fraction]],
    identical: Callable[[list[int]], bool] = lambda positions: False,
    sure: KnownExactly | None = None,
) -> tuple[I64, dict[int, Fraction]]:
    """Largest-remainder rounding decided on intervals ``estimate ± bound``.

    ``order_key`` is the tie-break (ascending). Positions in ``sure`` are
    exact already; other positions whose floor or whose side of the cut-off
    the intervals cannot settle are asked of ``exact``. Returns the micros
    and the exact values that were asked for.
    """
    known: dict[int, Fraction] = {}
    count = len(estimate)
    low = np.maximum(estimate - bound, LD(0))
    high = estimate + bound
    # Both ends are non-negative and below 2**63: truncation is the floor.
    floor_low, floor_high = low.astype(np.int64), high.astype(np.int64)
    floors = floor_low.copy()
    if sure is None:
        sure = KnownExactly(np.zeros(count, bool), np.zeros(count, np.int64), 1)
    exact_pos = sure.mask
    # Remainders of the sure positions over the common denominator (integers).
    sure_rem = np.where(exact_pos, sure.numerators % sure.denominator, 0)
    floors[exact_pos] = sure.numerators[exact_pos] // sure.denominator
    unsure = np.flatnonzero((floor_low != floor_high) & ~exact_pos).tolist()
    if unsure:
        known.update(exact(unsure))
    for pos, value in known.items():
        floors[pos] = value.numerator // value.denominator
    remaining = total - int(floors.sum())
    micros = floors.copy()
    if remaining == 0 or not count:
        return micros, known
    frac_low, frac_high = low - floors, high - floors
    if exact_pos.any():
        points = sure_rem[exact_pos].astype(LD) / LD(sure.denominator)
        frac_low[exact_pos], frac_high[exact_pos] = points - 16 * UNIT, points + 16 * UNIT
    for pos, value in known.items():
        point = to_longdouble((value - floors[pos]).numerator, (value - floors[pos]).denominator)
        frac_low[pos], frac_high[pos] = point - 16 * UNIT, point + 16 * UNIT
    # In for sure when at most ``remaining`` intervals (its own included) reach
    # its low end: its low end is above the (remaining + 1)-th highest high end.
    # Out for sure when ``remaining`` others lie wholly above it: its high end is
    # below the remaining-th highest low end. (0 < remaining < count here.)
    highest_highs = np.partition(frac_high, count - remaining - 1)[count - remaining - 1]
    highest_lows = np.partition(frac_low, count - remaining)[count - remaining]
    sure_in = frac_low > highest_highs
    sure_out = frac_high < highest_lows
    micros[sure_in] += 1
    slots = remaining - int(sure_in.sum())
    if slots <= 0:
        return micros, known
    undecided_array = np.flatnonzero(~(sure_in | sure_out))
    if exact_pos[undecided_array].all():
        # All exact over one denominator: compare the integer remainders.
        by_rank = np.lexsort((order_key[undecided_array], -sure_rem[undecided_array]))
        micros[undecided_array[by_rank[:slots]]] += 1
        return micros, known
    undecided = undecided_array.tolist()
    if len({int(floors[p]) for p in undecided}) == 1 and identical(undecided):
        # Co-owners with the very same holdings are exactly tied, always:
        # the id decides, no need to know the value.
        undecided.sort(key=lambda p: int(order_key[p]))
    else:
        missing = [p for p in undecided if p not in known and not exact_pos[p]]
        if missing:
            known.update(exact(missing))

        def remainder(p: int) -> Fraction:
            if exact_pos[p]:
                return Fraction(int(sure_rem[p]), sure.denominator)
            return known[p] - int(floors[p])

        undecided.sort(key=lambda p: (-remainder(p), int(order_key[p])))
    micros[undecided[:slots]] += 1
    return micros, known


class LazyEntitlements(Mapping[str, Fraction]):
    """Exact entitlements computed only when read (they cost rational arithmetic).

    ``keys`` gives the creators (called once, when first needed).
    """

    def __init__(
        self,
        keys: Callable[[], list[str]],
        count: int,
        compute: Callable[[list[str]], dict[str, Fraction]],
        known: Callable[[], dict[str, Fraction]],
    ) -> None:
        self._make_keys = keys
        self._count = count
        self._key_list: list[str] | None = None
        self._key_set: set[str] | None = None
        self._compute = compute
        self._known = known
        self._cache: dict[str, Fraction] | None = None

    @property
    def _keys(self) -> list[str]:
        if self._key_list is None:
            self._key_list = self._make_keys()
        return self._key_list

    def __getitem__(self, key: str) -> Fraction:
        if self._cache is None:
            self._cache = self._known()
        if key not in self._cache:
            if self._key_set is None:
                self._key_set = set(self._keys)
            if key not in self._key_set:
                raise KeyError(key)
            self._fill([key])
        return self._cache[key]

    def _fill(self, keys: list[str]) -> None:
        if self._cache is None:
            self._cache = self._known()
        missing = [k for k in keys if k not in self._cache]
        if missing:
            self._cache.update(self._compute(missing))

    def fill_all(self) -> None:
        """Compute every entitlement now, in one exact pass (not one pass per creator)."""
        self._fill(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return self._count

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            self._fill(self._keys)
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"<exact entitlements of {len(self._keys)} creators, computed on demand>"


def finish(
    cg: CompactGraph,
    total: int,
    creator_idx: I64,
    estimate: LDA,
    relative_bound: F64,
    injections: Callable[[npt.NDArray[np.bool_]], Sequence[Injection]],
    restrict: npt.NDArray[np.bool_] | None,
    sure: KnownExactly | None = None,
) -> tuple[dict[str, int], Mapping[str, Fraction]]:
    if float(relative_bound.max(initial=0.0)) > 1e-6:
        raise InvalidInput("graph too deep for the fast engine's error bound; use the exact engine")
    bound = estimate * LD(SLACK) * relative_bound.astype(LD)

    def exact(positions: list[int]) -> dict[int, Fraction]:
        if sure is not None:
            done = {p: sure.value(p) for p in positions if sure.mask[p]}
            positions = [p for p in positions if p not in done]
        else:
            done = {}
        if positions:
            values = exact_entitlements(
                cg, injections, [int(creator_idx[p]) for p in positions], restrict
            )
            done.update({p: values[int(creator_idx[p])] for p in positions})
        return done

    all_names = cg.creator_names

    def names() -> list[str]:
        return [all_names[c] for c in creator_idx.tolist()]

    if total >= 2**62:
        # Beyond int64 micros: settle these amounts exactly rather than widen every array.
        known = exact(list(range(creator_idx.size)))
        listed = names()
        split = allocate(total, {listed[p]: v for p, v in known.items()})
        creators = {n: split[n] for n in listed if split[n]}
    else:

        def identical(positions: list[int]) -> bool:
            return identical_holdings(cg, [int(creator_idx[p]) for p in positions], restrict)

        micros, known = round_on_intervals(
            total, estimate, bound, cg.creator_rank[creator_idx], exact, identical, sure
        )
        paid = np.flatnonzero(micros)
        payees = [all_names[c] for c in creator_idx[paid].tolist()]
        creators = dict(zip(payees, micros[paid].tolist(), strict=True))

    def compute(keys: list[str]) -> dict[str, Fraction]:
        position = {n: i for i, n in enumerate(entitlements._keys)}
        values = exact([position[k] for k in keys])
        return {all_names[int(creator_idx[p])]: v for p, v in values.items()}

    def known_by_name() -> dict[str, Fraction]:
        return {all_names[int(creator_idx[p])]: v for p, v in known.items()}

    entitlements = LazyEntitlements(names, creator_idx.size, compute, known_by_name)
    return creators, entitlements
