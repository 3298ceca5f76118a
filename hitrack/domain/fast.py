"""The fast settlement engine: the same micros as :mod:`hitrack.domain.credit`, on arrays.

A :class:`CompactGraph` holds the contribution graph as flat numpy arrays:
works are numbered in a topological order grouped by *level* (a work's level
is one more than the highest level among the works citing it), so value only
ever flows from lower to higher indices, and one level never feeds itself.
Citations are kept twice: by citing work (CSR, for ancestry walks) and by
(citing level, source), so that one level's whole propagation is a gather, a
multiply and a segmented sum (``np.add.reduceat``).

Value is propagated in extended precision (``np.longdouble``) and every
quantity carries a rigorous relative error bound, computed once per graph
from its structure (every rounding is counted: share conversion, products,
and worst-case sequential sums). Because all quantities are non-negative
there is no cancellation, so each creator's estimate ``E`` lies within
``rho * E`` of the exact rational entitlement. Rounding (DESIGN section 3,
step 6) is then decided on intervals: a creator whose floor, or whose place
around the largest-remainder cut-off, the interval cannot settle has its
entitlement recomputed exactly (:func:`exact_entitlements`, in rational
arithmetic over only the works that can reach that creator). In a batch, a
creator paid only by works that nothing flows into is settled from integers
directly (such a work's value is exactly what was injected), which spares the
recomputation the exact whole and half micros intervals can never settle. The
micros are therefore always those of the exact engine; only the time differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import repeat
from math import gcd
from operator import attrgetter
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from hitrack.domain.credit import (
    BatchSettlement,
    EventSettlement,
    Explanation,
    RevenueEvent,
    blended_shares,
    check_event_fields,
    explain,
    split_event,
)
from hitrack.domain.errors import (
    CycleError,
    InvalidCitation,
    InvalidEvent,
    InvalidInput,
    InvalidShare,
    UnknownWork,
)
from hitrack.domain.graph import KINDS, build_graph
from hitrack.domain.money import allocate

__all__ = [
    "CompactGraph",
    "settle_event",
    "settle_batch",
    "settle_batch_arrays",
    "exact_entitlements",
]

LD = np.longdouble
# Unit roundoff of the working precision (2**-64 with x87 extended precision,
# 2**-53 where longdouble is plain double: the bounds adapt either way).
UNIT = float(np.finfo(LD).eps) / 2
# Per-work rounding budget on top of the summation terms: share conversion
# (up to ~10 units for huge rationals), the product, and the final addition.
_NODE_ROUNDINGS = 16
# Rounding budget of an injected value (an exact integer or one converted rational).
_INJECT_ROUNDINGS = 16
# Slack for the second-order terms the first-order bounds leave out.
_SLACK = 1.01

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
LDA = npt.NDArray[np.longdouble]
Injection = tuple[int, int, "dict[int, Fraction] | None"]

_STORED = (
    "ids",
    "kinds",
    "titles",
    "consent_remix",
    "consent_ai",
    "creators",
    "level_ptr",
    "indptr",
    "indices",
    "share_num",
    "share_den",
    "own_ptr",
    "own_creator",
    "own_num",
    "own_den",
    "ret_num",
    "ret_den",
    "aw_num",
    "aw_den",
    "t_row",
    "t_target",
    "t_share",
    "csr_to_t",
    "level_edge_ptr",
    "seg_start",
    "seg_target",
    "level_seg_ptr",
    "own_weight",
    "c_work",
    "c_weight",
    "c_ptr",
    "rho_node",
    "rho_creator",
    "rev_ptr",
    "rev_citing",
)


def _to_ld(numerator: int, denominator: int) -> np.longdouble:
    """A rational in extended precision, within ~10 units of roundoff even for huge terms."""
    shift_n = max(numerator.bit_length() - 63, 0)
    shift_d = max(denominator.bit_length() - 63, 0)
    return LD(
        np.ldexp(LD(numerator >> shift_n), shift_n) / np.ldexp(LD(denominator >> shift_d), shift_d)
    )


def _gather_rows(indptr: I64, rows: npt.NDArray[Any]) -> I64:
    """Indices of all CSR entries of ``rows``, row after row."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    result: I64 = offsets + np.arange(total, dtype=np.int64)
    return result


def _split_fractions(
    values: Sequence[Fraction], tag: str, big: dict[str, Fraction]
) -> tuple[I64, I64]:
    """Numerators and denominators as int64; values that do not fit go to ``big``."""
    limit = 2**62
    num = np.empty(len(values), np.int64)
    den = np.empty(len(values), np.int64)
    for i, value in enumerate(values):
        if abs(value.numerator) < limit and value.denominator < limit:
            num[i], den[i] = value.numerator, value.denominator
        else:
            num[i], den[i] = 0, 0
            big[f"{tag}:{i}"] = value
    return num, den


def _row_sums(
    ptr: I64, num: I64, den: I64, tag: str, big: dict[str, Fraction]
) -> tuple[I64, I64, dict[int, Fraction]]:
    """Exact per-row sums of rationals: vectorised when a common denominator fits, else Python."""
    rows = len(ptr) - 1
    sum_num = np.zeros(rows, np.int64)
    sum_den = np.ones(rows, np.int64)
    slow: dict[int, Fraction] = {}
    nonempty = np.flatnonzero(np.diff(ptr) > 0)
    if nonempty.size and num.size:
        safe_den = np.where(den <= 0, 1, den)
        # The common denominator divides the product of the denominators; where
        # that product (times the term count) stays below 2**61 nothing overflows.
        magnitude = np.add.reduceat(np.log2(safe_den.astype(np.float64)), ptr[nonempty])
        magnitude += np.log2(np.diff(ptr)[nonempty].astype(np.float64))
        fits = (magnitude < 60.5) & (np.minimum.reduceat(den, ptr[nonempty]) > 0)
        row_of = np.repeat(np.arange(nonempty.size), np.diff(ptr)[nonempty])
        safe_den = np.where(fits[row_of], safe_den, 1)
        lcm = np.lcm.reduceat(safe_den, ptr[nonempty])
        small = lcm[row_of]
        scaled = num * (small // safe_den)
        totals = np.add.reduceat(scaled, ptr[nonempty])
        good = nonempty[fits]
        gcd = np.gcd(totals[fits], lcm[fits])
        gcd = np.where(gcd == 0, 1, gcd)
        sum_num[good] = totals[fits] // gcd
        sum_den[good] = lcm[fits] // gcd
        for row in nonempty[~fits].tolist():
            total = Fraction(0)
            for k in range(int(ptr[row]), int(ptr[row + 1])):
                total += big[f"{tag}:{k}"] if den[k] == 0 else Fraction(int(num[k]), int(den[k]))
            slow[row] = total
    return sum_num, sum_den, slow


@dataclass(eq=False)
class CompactGraph:
    """The contribution graph as arrays, numbered in topological order by level.

    Build it with :meth:`from_graph` (from a validated networkx graph) or
    :meth:`from_arrays` (validated here, for graphs too large for networkx);
    :meth:`save` and :meth:`load` keep it as an uncompressed ``.npz``.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> cg = CompactGraph.from_graph(G)
    >>> cg.ids.tolist(), cg.edge_count
    (['p1', 'r1'], 1)
    """

    ids: npt.NDArray[np.str_]
    kinds: npt.NDArray[np.int8]
    titles: npt.NDArray[np.str_]
    consent_remix: npt.NDArray[np.bool_]
    consent_ai: npt.NDArray[np.bool_]
    creators: npt.NDArray[np.str_]
    level_ptr: I64
    indptr: I64
    indices: I32
    share_num: I64
    share_den: I64
    own_ptr: I64
    own_creator: I32
    own_num: I64
    own_den: I64
    ret_num: I64
    ret_den: I64
    aw_num: I64
    aw_den: I64
    t_row: I32
    t_target: I32
    t_share: LDA
    csr_to_t: I64
    level_edge_ptr: I64
    seg_start: I64
    seg_target: I32
    level_seg_ptr: I64
    own_weight: LDA
    c_work: I32
    c_weight: LDA
    c_ptr: I64
    rho_node: F64
    rho_creator: F64
    rev_ptr: I64
    rev_citing: I32
    big: dict[str, Fraction] = field(default_factory=dict)
    _index: dict[str, int] | None = field(default=None, repr=False)
    _creator_index: dict[str, int] | None = field(default=None, repr=False)
    _level: I32 | None = field(default=None, repr=False)
    _creator_names: list[str] | None = field(default=None, repr=False)
    _creator_rank: I64 | None = field(default=None, repr=False)
    _min_factor: np.longdouble | None = field(default=None, repr=False)
    _by_id: tuple[npt.NDArray[np.str_], I64] | None = field(default=None, repr=False)

    # -- sizes and lookups ------------------------------------------------

    @property
    def work_count(self) -> int:
        return len(self.ids)

    @property
    def edge_count(self) -> int:
        return len(self.indices)

    @property
    def level_count(self) -> int:
        return len(self.level_ptr) - 1

    def index_of(self, work: str) -> int | None:
        """The position of ``work``, or None when it is not in the graph."""
        return self.work_index.get(work)

    @property
    def work_index(self) -> dict[str, int]:
        """Position of every work id (built once)."""
        if self._index is None:
            self._index = {work_id: i for i, work_id in enumerate(self.ids.tolist())}
        return self._index

    def positions_of(self, works: list[str]) -> I64:
        """Positions of many work ids at once (-1 for ids not in the graph).

        Vectorised over a copy of the ids in sorted order: one lookup in a
        dict of millions of ids costs a few cache misses, a sorted search of
        sorted queries is far cheaper per id.
        """
        query = np.array(works, dtype=str) if works else np.array([], dtype=self.ids.dtype)
        if self._by_id is None:
            order = np.argsort(self.ids, kind="stable")
            self._by_id = self.ids[order], order
        sorted_ids, order = self._by_id
        if query.dtype.itemsize > sorted_ids.dtype.itemsize or "\x00" in "".join(works):
            # Longer than every id, or with trailing NULs numpy would drop: ask the dict.
            index = self.work_index
            return np.fromiter(map(index.get, works, repeat(-1)), np.int64, len(works))
        by_query = np.argsort(query, kind="stable")
        ordered = query[by_query]
        found = np.minimum(np.searchsorted(sorted_ids, ordered), max(sorted_ids.size - 1, 0))
        result = np.full(len(works), -1, np.int64)
        if sorted_ids.size:
            hit = sorted_ids[found] == ordered
            result[by_query[hit]] = order[found[hit]]
        return result

    def creator_index(self, creator: str) -> int | None:
        if self._creator_index is None:
            self._creator_index = {c: i for i, c in enumerate(self.creators.tolist())}
        return self._creator_index.get(creator)

    @property
    def creator_names(self) -> list[str]:
        """The creator ids as Python strings (cached: results are keyed by them)."""
        if self._creator_names is None:
            self._creator_names = self.creators.tolist()
        return self._creator_names

    @property
    def creator_rank(self) -> I64:
        """Each creator's position in id (string) order, the rounding tie-break.

        Graphs compacted here keep creators sorted, so this is the identity;
        a graph stored with creators in another order is ranked once.
        """
        if self._creator_rank is None:
            names = self.creators
            rank = np.arange(names.size, dtype=np.int64)
            if names.size > 1 and not (names[1:] > names[:-1]).all():
                rank[np.argsort(names, kind="stable")] = np.arange(names.size)
            self._creator_rank = rank
        return self._creator_rank

    @property
    def min_factor(self) -> np.longdouble:
        """The smallest positive factor values are multiplied by (shares, owners' weights).

        A settlement whose smallest positive value times this stays a normal
        number never underflows, which the error bounds assume.
        """
        if self._min_factor is None:
            earns = np.repeat((self.ret_num != 0) | (self.ret_den == 0), np.diff(self.own_ptr))
            weights = self.own_weight[earns & ((self.own_num != 0) | (self.own_den == 0))]
            self._min_factor = min(
                self.t_share.min(initial=LD(1)), weights.min(initial=LD(1)), LD(1)
            )
        return self._min_factor

    @property
    def level(self) -> I32:
        """Each work's level."""
        if self._level is None:
            self._level = np.repeat(
                np.arange(self.level_count, dtype=np.int32), np.diff(self.level_ptr)
            )
        return self._level

    def share(self, edge: int) -> Fraction:
        den = int(self.share_den[edge])
        return self.big[f"s:{edge}"] if den == 0 else Fraction(int(self.share_num[edge]), den)

    def ownership(self, entry: int) -> Fraction:
        den = int(self.own_den[entry])
        return self.big[f"o:{entry}"] if den == 0 else Fraction(int(self.own_num[entry]), den)

    def retained(self, work: int) -> Fraction:
        den = int(self.ret_den[work])
        return self.big[f"r:{work}"] if den == 0 else Fraction(int(self.ret_num[work]), den)

    def attribution_weight(self, work: int) -> Fraction:
        den = int(self.aw_den[work])
        return self.big[f"a:{work}"] if den == 0 else Fraction(int(self.aw_num[work]), den)

    def sources(self, work: int) -> dict[int, Fraction]:
        return {
            int(self.indices[e]): self.share(e)
            for e in range(int(self.indptr[work]), int(self.indptr[work + 1]))
        }

    def owners(self, work: int) -> dict[str, Fraction]:
        return {
            str(self.creators[self.own_creator[k]]): self.ownership(k)
            for k in range(int(self.own_ptr[work]), int(self.own_ptr[work + 1]))
        }

    # -- construction ------------------------------------------------------

    @classmethod
    def from_graph(cls, G: nx.DiGraph) -> CompactGraph:
        """Compact a graph built by :func:`~hitrack.domain.graph.build_graph`."""
        work_ids = sorted(G)
        position = {work: i for i, work in enumerate(work_ids)}
        creator_ids = sorted({c for w in work_ids for c in G.nodes[w]["owners"]})
        creator_pos = {c: i for i, c in enumerate(creator_ids)}
        edge_work, edge_source, shares = [], [], []
        owner_work, owner_creator, ownerships = [], [], []
        for work in work_ids:
            for _, source, data in sorted(G.out_edges(work, data=True)):
                edge_work.append(position[work])
                edge_source.append(position[source])
                shares.append(data["share"])
            for creator, fraction in sorted(G.nodes[work]["owners"].items()):
                owner_work.append(position[work])
                owner_creator.append(creator_pos[creator])
                ownerships.append(fraction)
        big: dict[str, Fraction] = {}
        share_num, share_den = _split_fractions(shares, "in_s", big)
        own_num, own_den = _split_fractions(ownerships, "in_o", big)
        aw_num, aw_den = _split_fractions(
            [G.nodes[w]["attribution_weight"] for w in work_ids], "in_a", big
        )
        return cls.from_arrays(
            ids=work_ids,
            kinds=[G.nodes[w]["kind"] for w in work_ids],
            creators=creator_ids,
            edge_work=np.array(edge_work, np.int64),
            edge_source=np.array(edge_source, np.int64),
            share_num=share_num,
            share_den=share_den,
            owner_work=np.array(owner_work, np.int64),
            owner_creator=np.array(owner_creator, np.int64),
            own_num=own_num,
            own_den=own_den,
            aw_num=aw_num,
            aw_den=aw_den,
            titles=[G.nodes[w]["title"] for w in work_ids],
            consent_remix=[G.nodes[w]["consent_remix"] for w in work_ids],
            consent_ai=[G.nodes[w]["consent_ai_training"] for w in work_ids],
            big=big,
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        ids: Sequence[str],
        kinds: Sequence[str] | npt.NDArray[np.int8],
        creators: Sequence[str],
        edge_work: npt.NDArray[Any],
        edge_source: npt.NDArray[Any],
        share_num: npt.NDArray[Any],
        share_den: npt.NDArray[Any],
        owner_work: npt.NDArray[Any],
        owner_creator: npt.NDArray[Any],
        own_num: npt.NDArray[Any],
        own_den: npt.NDArray[Any],
        aw_num: npt.NDArray[Any] | None = None,
        aw_den: npt.NDArray[Any] | None = None,
        titles: Sequence[str] | None = None,
        consent_remix: Sequence[bool] | None = None,
        consent_ai: Sequence[bool] | None = None,
        big: Mapping[str, Fraction] | None = None,
    ) -> CompactGraph:
        """Validate and compact a graph given as arrays of indices and exact rationals.

        Edges are ``edge_work[i] -> edge_source[i]`` with share
        ``share_num[i] / share_den[i]``; ownership entries likewise. A zero
        denominator means the exact value is in ``big`` under ``"in_s:i"``,
        ``"in_o:i"`` or ``"in_a:i"``. The graph rules of
        :func:`~hitrack.domain.graph.build_graph` are enforced (consent aside).
        """
        n = len(ids)
        id_array = np.asarray(ids, dtype=str)
        if len(set(ids)) != n:
            seen: set[str] = set()
            dup = next(w for w in ids if w in seen or seen.add(w))  # type: ignore[func-returns-value]
            raise InvalidInput(f"duplicate work id {dup}", ids=(dup,))
        kind_codes = (
            np.asarray(kinds, np.int8)
            if isinstance(kinds, np.ndarray)
            else np.array([KINDS.index(k) if k in KINDS else -1 for k in kinds], np.int8)
        )
        if (kind_codes < 0).any() or (kind_codes >= len(KINDS)).any():
            bad = int(np.flatnonzero((kind_codes < 0) | (kind_codes >= len(KINDS)))[0])
            raise InvalidInput(f"work {ids[bad]}: unknown kind", ids=(ids[bad],))
        inputs = dict(big or {})
        ew = np.asarray(edge_work, np.int64)
        es = np.asarray(edge_source, np.int64)
        sn = np.asarray(share_num, np.int64)
        sd = np.asarray(share_den, np.int64)
        ow = np.asarray(owner_work, np.int64)
        oc = np.asarray(owner_creator, np.int64)
        # Creators are kept in id order, so that an index comparison is the
        # string comparison every tie-break (DESIGN section 3, step 6) asks for.
        creator_array = np.asarray(creators, dtype=str)
        if creator_array.size > 1 and not (creator_array[1:] > creator_array[:-1]).all():
            creator_order = np.argsort(creator_array, kind="stable")
            creator_array = creator_array[creator_order]
            if (creator_array[1:] == creator_array[:-1]).any():
                dup_c = str(
                    creator_array[np.flatnonzero(creator_array[1:] == creator_array[:-1])[0]]
                )
                raise InvalidInput(f"duplicate creator id {dup_c}", ids=(dup_c,))
            new_of_old_creator = np.empty(creator_array.size, np.int64)
            new_of_old_creator[creator_order] = np.arange(creator_array.size)
            oc = new_of_old_creator[oc]
        on = np.asarray(own_num, np.int64)
        od = np.asarray(own_den, np.int64)
        an = np.zeros(n, np.int64) if aw_num is None else np.asarray(aw_num, np.int64)
        ad = np.ones(n, np.int64) if aw_den is None else np.asarray(aw_den, np.int64)

        def name(i: int) -> str:
            return str(id_array[i])

        # Rules on single values, vectorised; a zero denominator defers to Python.
        for e in np.flatnonzero(sd == 0).tolist():
            value = inputs[f"in_s:{e}"]
            if not 0 < value <= 1:
                raise InvalidShare(
                    f"citation {name(ew[e])} -> {name(es[e])}: share {value} is outside (0, 1]",
                    ids=(name(ew[e]), name(es[e])),
                )
        bad_share = (sd != 0) & ((sn <= 0) | (sd < 0) | (sn > sd))
        if bad_share.any():
            e = int(np.flatnonzero(bad_share)[0])
            raise InvalidShare(
                f"citation {name(ew[e])} -> {name(es[e])}: share {sn[e]}/{sd[e]} is outside (0, 1]",
                ids=(name(ew[e]), name(es[e])),
            )
        if (ew == es).any():
            w = name(int(ew[np.flatnonzero(ew == es)[0]]))
            raise InvalidCitation(f"work {w} cites itself", ids=(w,))
        bad_own = (od != 0) & ((on <= 0) | (od < 0))
        if bad_own.any():
            k = int(np.flatnonzero(bad_own)[0])
            raise InvalidShare(
                f"work {name(ow[k])}: ownership must be positive", ids=(name(ow[k]),)
            )
        bad_aw = (ad != 0) & ((an < 0) | (ad < 0) | (an > ad))
        if bad_aw.any():
            w = name(int(np.flatnonzero(bad_aw)[0]))
            raise InvalidShare(f"work {w}: attribution_weight is outside [0, 1]", ids=(w,))

        # Levels (Kahn's algorithm one whole generation at a time); leftovers are a cycle.
        by_work = np.argsort(ew, kind="stable")
        ptr0 = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(ew, minlength=n), out=ptr0[1:])
        level = np.full(n, -1, np.int64)
        waiting = np.bincount(es, minlength=n)
        frontier = np.flatnonzero(waiting == 0)
        depth = 0
        while frontier.size:
            level[frontier] = depth
            targets = es[by_work[_gather_rows(ptr0, frontier)]]
            if targets.size:
                hit, count = np.unique(targets, return_counts=True)
                waiting[hit] -= count
                frontier = hit[waiting[hit] == 0]
            else:
                frontier = frontier[:0]
            depth += 1
        if (level < 0).any():
            stuck = np.flatnonzero(level < 0)
            mask = np.isin(ew, stuck) & np.isin(es, stuck)
            sub = nx.DiGraph()
            sub.add_edges_from(zip(ew[mask].tolist(), es[mask].tolist(), strict=True))
            cycle = [name(a) for a, _ in nx.find_cycle(sub)]
            raise CycleError(
                "citations form a cycle: " + " -> ".join([*cycle, cycle[0]]), ids=tuple(cycle)
            )

        # Renumber by (level, id): a topological order that does not depend on input order.
        new_order = np.lexsort((id_array, level))
        new_of_old = np.empty(n, np.int64)
        new_of_old[new_order] = np.arange(n)
        ew, es = new_of_old[ew], new_of_old[es]
        order = np.lexsort((es, ew))
        new_of_old_edge = np.empty(len(order), np.int64)
        new_of_old_edge[order] = np.arange(len(order))
        ew, es, sn, sd = ew[order], es[order], sn[order], sd[order]
        store: dict[str, Fraction] = {}
        for key, value in inputs.items():
            if key.startswith("in_s:"):
                store[f"s:{int(new_of_old_edge[int(key[5:])])}"] = value
        pair = ew * n + es
        if pair.size > 1 and (np.diff(pair) == 0).any():
            e = int(np.flatnonzero(np.diff(pair) == 0)[0])
            raise InvalidCitation(
                f"work {name(int(new_order[ew[e]]))} cites {name(int(new_order[es[e]]))} twice",
                ids=(name(int(new_order[ew[e]])), name(int(new_order[es[e]]))),
            )
        level = level[new_order]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(ew, minlength=n), out=indptr[1:])

        # Exact sums of shares per work: above 1 is an error, the rest is retained.
        sum_num, sum_den, slow = _row_sums(indptr, sn, sd, "s", store)
        for row, total in slow.items():
            if total > 1:
                raise InvalidCitation(
                    f"work {name(int(new_order[row]))}: source shares sum to {total}, above 1",
                    ids=(name(int(new_order[row])),),
                )
        over = sum_num > sum_den
        if over.any():
            w = name(int(new_order[np.flatnonzero(over)[0]]))
            raise InvalidCitation(f"work {w}: source shares sum above 1", ids=(w,))
        ret_num, ret_den = sum_den - sum_num, sum_den.copy()
        for row, total in slow.items():
            ret = 1 - total
            if abs(ret.numerator) < 2**62 and ret.denominator < 2**62:
                ret_num[row], ret_den[row] = ret.numerator, ret.denominator
            else:
                ret_num[row], ret_den[row] = 0, 0
                store[f"r:{row}"] = ret

        # Owners, grouped by work, then checked to sum to exactly 1.
        ow_new = new_of_old[ow]
        oorder = np.lexsort((oc, ow_new))
        ow_new, oc, on, od = ow_new[oorder], oc[oorder], on[oorder], od[oorder]
        for new_k in np.flatnonzero(od == 0).tolist():
            value = inputs[f"in_o:{int(oorder[new_k])}"]
            if value <= 0:
                w = name(int(new_order[ow_new[new_k]]))
                raise InvalidShare(f"work {w}: ownership must be positive", ids=(w,))
            store[f"o:{new_k}"] = value
        own_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(ow_new, minlength=n), out=own_ptr[1:])
        if (np.diff(own_ptr) == 0).any():
            w = name(int(new_order[np.flatnonzero(np.diff(own_ptr) == 0)[0]]))
            raise InvalidShare(f"work {w} has no owners", ids=(w,))
        if oc.size > 1 and ((np.diff(ow_new * len(creators) + oc)) == 0).any():
            k = int(np.flatnonzero(np.diff(ow_new * len(creators) + oc) == 0)[0])
            w = name(int(new_order[ow_new[k]]))
            raise InvalidShare(f"work {w} lists an owner twice", ids=(w,))
        o_num, o_den, o_slow = _row_sums(own_ptr, on, od, "o", store)
        wrong = (o_num != o_den) & ~np.isin(np.arange(n), list(o_slow))
        wrong_rows = np.flatnonzero(wrong).tolist() + [r for r, t in o_slow.items() if t != 1]
        if wrong_rows:
            w = name(int(new_order[wrong_rows[0]]))
            raise InvalidShare(f"work {w}: owners' fractions do not sum to exactly 1", ids=(w,))

        an, ad = an[new_order], ad[new_order]
        for old_w in np.flatnonzero(np.asarray(aw_den if aw_den is not None else ad) == 0).tolist():
            value = inputs[f"in_a:{old_w}"]
            if not 0 <= value <= 1:
                raise InvalidShare(
                    f"work {name(old_w)}: attribution_weight is outside [0, 1]", ids=(name(old_w),)
                )
            store[f"a:{int(new_of_old[old_w])}"] = value

        graph = cls._derive(
            ids=id_array[new_order],
            kinds=kind_codes[new_order],
            titles=np.asarray(titles if titles is not None else [""] * n, dtype=str)[new_order],
            consent_remix=np.asarray(
                consent_remix if consent_remix is not None else [True] * n, bool
            )[new_order],
            consent_ai=np.asarray(consent_ai if consent_ai is not None else [False] * n, bool)[
                new_order
            ],
            creators=creator_array,
            level=level,
            indptr=indptr,
            indices=es.astype(np.int32),
            share_num=sn,
            share_den=sd,
            own_ptr=own_ptr,
            own_creator=oc.astype(np.int32),
            own_num=on,
            own_den=od,
            ret_num=ret_num,
            ret_den=ret_den,
            aw_num=an,
            aw_den=ad,
            big=store,
        )
        return graph

    @classmethod
    def _derive(cls, *, level: I64, big: dict[str, Fraction], **arrays: Any) -> CompactGraph:
        """Compute the propagation layout and the error bounds from the core arrays."""
        n = len(arrays["ids"])
        indptr: I64 = arrays["indptr"]
        indices: I32 = arrays["indices"]
        levels = int(level.max()) + 1 if n else 0
        level_ptr = np.zeros(levels + 1, np.int64)
        np.cumsum(np.bincount(level, minlength=levels), out=level_ptr[1:])
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        edge_level = level[rows]
        t_order = np.lexsort((indices, edge_level))
        csr_to_t = np.empty(len(indices), np.int64)
        csr_to_t[t_order] = np.arange(len(indices))
        t_row = rows[t_order].astype(np.int32)
        t_target = indices[t_order].astype(np.int32)
        t_level = edge_level[t_order]
        share_ld = cls._fractions_ld(arrays["share_num"], arrays["share_den"], "s", big)
        t_share = share_ld[t_order]
        level_edge_ptr = np.searchsorted(t_level, np.arange(levels + 1)).astype(np.int64)
        new_segment = np.ones(len(indices), bool)
        if len(indices) > 1:
            new_segment[1:] = (t_target[1:] != t_target[:-1]) | (t_level[1:] != t_level[:-1])
        seg_start = np.flatnonzero(new_segment).astype(np.int64)
        seg_target = t_target[seg_start]
        level_seg_ptr = np.searchsorted(seg_start, level_edge_ptr).astype(np.int64)

        # Owners: weight = ownership * retained, by work and by creator.
        own_ptr: I64 = arrays["own_ptr"]
        own_work = np.repeat(np.arange(n, dtype=np.int64), np.diff(own_ptr))
        ret_ld = cls._fractions_ld(arrays["ret_num"], arrays["ret_den"], "r", big)
        own_ld = cls._fractions_ld(arrays["own_num"], arrays["own_den"], "o", big)
        own_weight = own_ld * ret_ld[own_work]
        creator_count = len(arrays["creators"])
        c_order = np.lexsort((own_work, arrays["own_creator"]))
        c_work = own_work[c_order].astype(np.int32)
        c_weight = own_weight[c_order]
        c_ptr = np.zeros(creator_count + 1, np.int64)
        np.cumsum(np.bincount(arrays["own_creator"], minlength=creator_count), out=c_ptr[1:])

        # Relative error bound of each work's value: the worst bound among its
        # citers, plus this work's own roundings. A value is summed from at most
        # (citers + levels) terms, each bounded by the worst-case sequential sum.
        citers = np.bincount(indices, minlength=n).astype(np.float64)
        rho = np.zeros(n, np.float64)
        node_term = (2 * citers + _NODE_ROUNDINGS) * UNIT
        for lv in range(levels):
            lo, hi = level_ptr[lv], level_ptr[lv + 1]
            rho[lo:hi] += node_term[lo:hi]
            e0, e1 = level_edge_ptr[lv], level_edge_ptr[lv + 1]
            if e1 > e0:
                s0, s1 = level_seg_ptr[lv], level_seg_ptr[lv + 1]
                worst = np.maximum.reduceat(rho[t_row[e0:e1]], seg_start[s0:s1] - e0)
                targets = seg_target[s0:s1]
                rho[targets] = np.maximum(rho[targets], worst)
        counts = np.diff(c_ptr)
        owning = np.flatnonzero(counts > 0)
        rho_creator = np.zeros(creator_count, np.float64)
        if owning.size:
            rho_creator[owning] = (
                np.maximum.reduceat(rho[c_work], c_ptr[owning])
                + (counts[owning] + _NODE_ROUNDINGS) * UNIT
            )
        # Citers of each work, for the exact recomputation's backward walk.
        by_source = np.argsort(indices, kind="stable")
        rev_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(indices, minlength=n), out=rev_ptr[1:])
        return cls(
            **arrays,
            rev_ptr=rev_ptr,
            rev_citing=rows[by_source].astype(np.int32),
            level_ptr=level_ptr,
            t_row=t_row,
            t_target=t_target,
            t_share=t_share,
            csr_to_t=csr_to_t,
            level_edge_ptr=level_edge_ptr,
            seg_start=seg_start,
            seg_target=seg_target.astype(np.int32),
            level_seg_ptr=level_seg_ptr,
            own_weight=own_weight,
            c_work=c_work,
            c_weight=c_weight,
            c_ptr=c_ptr,
            rho_node=rho,
            rho_creator=rho_creator,
            big=big,
        )

    @staticmethod
    def _fractions_ld(num: I64, den: I64, tag: str, big: Mapping[str, Fraction]) -> LDA:
        safe = np.where(den == 0, 1, den)
        result: LDA = num.astype(LD) / safe.astype(LD)
        for i in np.flatnonzero(den == 0).tolist():
            value = big[f"{tag}:{i}"]
            result[i] = _to_ld(value.numerator, value.denominator)
        return result

    # -- storage -----------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the graph, layout and bounds included, as an uncompressed ``.npz``."""
        arrays = {name: getattr(self, name) for name in _STORED}
        big = json.dumps({k: f"{v.numerator}/{v.denominator}" for k, v in self.big.items()})
        with open(path, "wb") as handle:
            np.savez(handle, big=np.array(big), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> CompactGraph:
        """Read a graph written by :meth:`save`; nothing is recomputed."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _STORED}
            big = {k: Fraction(v) for k, v in json.loads(str(data["big"])).items()}
        graph = cls(**arrays, big=big)
        graph.index_of("")  # lookups by id and level are part of loading, not of settling
        _ = graph.level, graph.creator_names, graph.creator_rank, graph.min_factor
        graph.positions_of(["", "w"])  # the sorted copy of the ids
        return graph

    # -- back to networkx --------------------------------------------------

    def to_graph(self, nodes: Iterable[int] | None = None) -> nx.DiGraph:
        """The graph (or the subgraph on ``nodes``, closed under citation) as networkx."""
        from hitrack.domain.graph import Work

        chosen = range(self.work_count) if nodes is None else sorted(set(nodes))
        works = []
        for i in chosen:
            works.append(
                Work(
                    id=str(self.ids[i]),
                    kind=KINDS[int(self.kinds[i])],
                    owners=self.owners(i),
                    sources={str(self.ids[s]): share for s, share in self.sources(i).items()},
                    attribution_weight=self.attribution_weight(i),
                    consent_remix=bool(self.consent_remix[i]),
                    consent_ai_training=bool(self.consent_ai[i]),
                    title=str(self.titles[i]),
                )
            )
        return build_graph(works)

    # -- walks ---------------------------------------------------------------

    def ancestry_mask(self, start: int) -> npt.NDArray[np.bool_]:
        """Works reachable from ``start`` along citations, ``start`` included."""
        mark = np.zeros(self.work_count, bool)
        mark[start] = True
        frontier = np.array([start], np.int64)
        while frontier.size:
            reached = self.indices[_gather_rows(self.indptr, frontier)]
            reached = reached[~mark[reached]]
            if not reached.size:
                break
            frontier = np.unique(reached).astype(np.int64)
            mark[frontier] = True
        return mark

    def citers_mask(
        self, starts: npt.NDArray[Any], allowed: npt.NDArray[np.bool_] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Works from which any of ``starts`` can be reached, ``starts`` included.

        With ``allowed``, the walk only passes through allowed works.
        """
        ptr, citing = self.rev_ptr, self.rev_citing
        mark = np.zeros(self.work_count, bool)
        frontier = np.unique(np.asarray(starts, np.int64))
        if allowed is not None:
            frontier = frontier[allowed[frontier]]
        mark[frontier] = True
        while frontier.size:
            reached = citing[_gather_rows(ptr, frontier)]
            reached = reached[~mark[reached]]
            if allowed is not None:
                reached = reached[allowed[reached]]
            if not reached.size:
                break
            frontier = np.unique(reached).astype(np.int64)
            mark[frontier] = True
        return mark

    def manifest(self, work: int) -> list[str]:
        return [str(self.ids[s]) for s in self.indices[self.indptr[work] : self.indptr[work + 1]]]


# -- exact recomputation ------------------------------------------------------


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
    roots of the graph down: ``g(x)`` is the part of one unit entering ``x``
    that ends with each chosen creator. ``restrict`` may exclude works that
    carry no value in this settlement (nothing flows through them), which
    keeps the walk small.
    """
    wanted = sorted(set(int(c) for c in creators))
    if not wanted:
        return {}
    chosen = set(wanted)
    owned = np.concatenate([cg.c_work[cg.c_ptr[c] : cg.c_ptr[c + 1]] for c in wanted])
    reach = cg.citers_mask(owned, restrict)
    per_unit: dict[int, dict[int, Fraction]] = {}

    def unit_share(x: int, shares: Mapping[int, Fraction] | None) -> dict[int, Fraction]:
        acc: dict[int, Fraction] = {}
        retained = cg.retained(x)
        if retained:
            for k in range(int(cg.own_ptr[x]), int(cg.own_ptr[x + 1])):
                c = int(cg.own_creator[k])
                if c in chosen:
                    acc[c] = acc.get(c, Fraction(0)) + cg.ownership(k) * retained
        hops = cg.sources(x) if shares is None else shares
        for s, share in hops.items():
            below = per_unit.get(s)
            if below:
                for c, value in below.items():
                    acc[c] = acc.get(c, Fraction(0)) + share * value
        return acc

    # Sources have higher indices than their citers: descending order visits
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


# -- rounding on intervals -----------------------------------------------------


@dataclass(frozen=True)
class _Sure:
    """Entitlements known exactly without recomputation: ``numerators / denominator``
    at the positions where ``mask`` is set (one common denominator)."""

    mask: npt.NDArray[np.bool_]
    numerators: I64
    denominator: int

    def value(self, position: int) -> Fraction:
        return Fraction(int(self.numerators[position]), self.denominator)


def _round_on_intervals(
    total: int,
    estimate: LDA,
    bound: LDA,
    order_key: I64,
    exact: Callable[[list[int]], dict[int, Fraction]],
    identical: Callable[[list[int]], bool] = lambda positions: False,
    sure: _Sure | None = None,
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
        sure = _Sure(np.zeros(count, bool), np.zeros(count, np.int64), 1)
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
        point = _to_ld((value - floors[pos]).numerator, (value - floors[pos]).denominator)
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


class _LazyEntitlements(Mapping[str, Fraction]):
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


# -- settlement ----------------------------------------------------------------


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


class _Products:
    """Segmented sums of products ``weights[k] * source[index[k]]``, in chunks.

    Segments are runs of entries ``[starts[i], starts[i + 1])``. The work is
    cut into chunks of about ``_CHUNK`` entries at segment starts and done in
    two reused buffers: no temporary as long as the graph, which would cost
    fresh memory (page faults) and fall out of cache.
    """

    def __init__(self) -> None:
        self.products = np.empty(2 * _CHUNK, LD)
        self.sums = np.empty(2 * _CHUNK, LD)

    def chunks(
        self, source: LDA, index: I32, weights: LDA, starts: I64, stop: int
    ) -> Iterator[tuple[int, int, LDA]]:
        """``(a, b, sums of segments a..b-1)``, chunk after chunk (the last segment ends at ``stop``)."""
        if not starts.size:
            return
        cuts = np.searchsorted(starts, np.arange(int(starts[0]), stop, _CHUNK), "right") - 1
        bounds = [*np.unique(cuts).tolist(), starts.size]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            lo = int(starts[a])
            hi = int(starts[b]) if b < starts.size else stop
            big = hi - lo > self.products.size
            products = np.empty(hi - lo, LD) if big else self.products[: hi - lo]
            np.take(source, index[lo:hi], out=products, mode="clip")
            np.multiply(products, weights[lo:hi], out=products)
            sums = np.empty(b - a, LD) if big else self.sums[: b - a]
            np.add.reduceat(products, starts[a:b] - lo, out=sums)
            yield a, b, sums


_CHUNK = 1 << 16


def _propagate_levels(
    cg: CompactGraph, value: LDA, first_level: int, fed: npt.NDArray[np.bool_] | None = None
) -> None:
    """Whole-graph propagation, one level at a time, in place.

    With ``fed``, also marks every work that received a positive part of a
    citing work's value (the works whose value is not just what was injected).
    """
    products = _Products()
    for lv in range(first_level, cg.level_count):
        e0, e1 = cg.level_edge_ptr[lv], cg.level_edge_ptr[lv + 1]
        if e1 == e0:
            continue
        s0, s1 = int(cg.level_seg_ptr[lv]), int(cg.level_seg_ptr[lv + 1])
        chunks = products.chunks(value, cg.t_row, cg.t_share, cg.seg_start[s0:s1], int(e1))
        for a, b, sums in chunks:
            # Sources sit at later levels than their citers: this level's rows
            # are not written, and each target appears once per level.
            targets = cg.seg_target[s0 + a : s0 + b]
            value[targets] += sums
            if fed is not None:
                fed[targets[sums > 0]] = True


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


def _finish(
    cg: CompactGraph,
    total: int,
    creator_idx: I64,
    estimate: LDA,
    rho: F64,
    injections: Callable[[npt.NDArray[np.bool_]], Sequence[Injection]],
    restrict: npt.NDArray[np.bool_] | None,
    sure: _Sure | None = None,
) -> tuple[dict[str, int], Mapping[str, Fraction]]:
    if float(rho.max(initial=0.0)) > 1e-6:
        raise InvalidInput("graph too deep for the fast engine's error bound; use the exact engine")
    bound = estimate * LD(_SLACK) * rho.astype(LD)

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
            return _identical_holdings(cg, [int(creator_idx[p]) for p in positions], restrict)

        micros, known = _round_on_intervals(
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

    entitlements = _LazyEntitlements(names, creator_idx.size, compute, known_by_name)
    return creators, entitlements


def _identical_holdings(
    cg: CompactGraph, creators: list[int], live: npt.NDArray[np.bool_] | None
) -> bool:
    """Whether these creators own the same valued works in the same fractions."""

    def holdings(c: int) -> list[tuple[int, Fraction]]:
        out = []
        for w in cg.c_work[cg.c_ptr[c] : cg.c_ptr[c + 1]].tolist():
            if live is not None and not live[w]:
                continue
            for k in range(int(cg.own_ptr[w]), int(cg.own_ptr[w + 1])):
                if int(cg.own_creator[k]) == c:
                    out.append((w, cg.ownership(k)))
        return out

    first = holdings(creators[0])
    return all(holdings(c) == first for c in creators[1:])


@dataclass
class _Batch:
    """A batch's events after steps 1-3: totals, recoups and what enters the graph."""

    count: int
    amount: int
    fee: int
    distributable: int
    recouped: dict[str, int]
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
    """Each owner's recoups summed over many events, each event split as :func:`allocate`
    splits it (floors, then the leftover micros by largest remainder, ties by id).

    Vectorised over one common denominator per event where everything provably
    fits in int64; any other event goes through :func:`allocate` itself.
    """
    keep = recouped > 0
    works, recouped = works[keep], recouped[keep]
    totals: dict[str, int] = {}
    if not works.size:
        return totals
    per_event = cg.own_ptr[works + 1] - cg.own_ptr[works]
    entries = _gather_rows(cg.own_ptr, works)
    group = np.repeat(np.arange(works.size), per_event)
    first = np.cumsum(per_event) - per_event
    num, den = cg.own_num[entries], cg.own_den[entries]
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
    creator = cg.own_creator[entries].astype(np.int64)
    order = np.lexsort((cg.creator_rank[creator], -remainders, group))
    bonus = np.zeros(entries.size, np.int64)
    place = np.arange(entries.size) - first[group[order]]
    bonus[order] = place < leftover[group[order]]
    micros = np.where(fits_entry, floors + bonus, 0)
    summed = np.zeros(len(cg.creators), np.int64)
    np.add.at(summed, creator, micros)
    names = cg.creator_names
    for c, m in zip(np.flatnonzero(summed).tolist(), summed[summed != 0].tolist(), strict=True):
        totals[names[c]] = m
    for i in np.flatnonzero(~fits).tolist():
        for owner, m in _recouped(cg, int(works[i]), int(recouped[i])).items():
            totals[owner] = totals.get(owner, 0) + m
    return dict(sorted(totals.items()))


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
            blend = _blend(cg, int(starts[i]), event)
            if blend is not None:
                blended.append((int(starts[i]), int(distributable[i]), blend))
                plain[i] = False
    return _Batch(
        count=int(starts.size),
        amount=sum(amount.tolist()),
        fee=sum(fee.tolist()),
        distributable=sum(distributable.tolist()),
        recouped=_recoup_totals(cg, starts, recouped),
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
    for event in special.values():
        _event_work(cg, event)  # the model and manifest rules; raises on the first bad one
    return _batch_of_arrays(cg, starts, amount, cost, fee_num, fee_den, special)


def _prepare_events(cg: CompactGraph, events: Iterable[RevenueEvent]) -> _Batch:
    """The batch event by event, every rule checked in the exact engine's order."""
    count = amount = fee = distributable = 0
    recouped: dict[str, int] = {}
    plain_work: list[int] = []
    plain_amount: list[int] = []
    blended: list[Injection] = []
    seen: set[str] = set()
    for event in events:
        start = _event_work(cg, event)
        if event.id in seen:
            raise InvalidEvent(f"duplicate event id {event.id}", ids=(event.id,))
        seen.add(event.id)
        event_recouped, event_fee, event_distributable = split_event(event)
        count += 1
        amount += event.amount
        fee += event_fee
        distributable += event_distributable
        for owner, micros in _recouped(cg, start, event_recouped).items():
            recouped[owner] = recouped.get(owner, 0) + micros
        if not event_distributable:
            continue
        blend = _blend(cg, start, event)
        if blend is None:
            plain_work.append(start)
            plain_amount.append(event_distributable)
        else:
            blended.append((start, event_distributable, blend))
    if max(plain_amount, default=0) >= 2**62 or sum(plain_amount) >= 2**62:
        raise InvalidInput("batch too large for one settlement (above 2**62 micros); split it")
    return _Batch(
        count=count,
        amount=amount,
        fee=fee,
        distributable=distributable,
        recouped=dict(sorted(recouped.items())),
        plain_work=np.array(plain_work, np.int64),
        plain_amount=np.array(plain_amount, np.int64),
        blended=blended,
    )


def _direct_entitlements(
    cg: CompactGraph, creator_idx: I64, reached: I64, fed: npt.NDArray[np.bool_]
) -> _Sure:
    """Exact entitlements of the creators paid only by works nothing flows into.

    Such a work's value is exactly the integer injected into it (``reached``),
    so its owners' entitlements are sums of integers times their exact
    ownership and retained fractions. They are computed here over one common
    denominator, in int64 wherever that provably fits; every other creator is
    left to the intervals. These are the entitlements floats most often cannot
    settle: exact whole or half micros sit on a rounding boundary.
    """
    creator_count = len(cg.creators)
    retains = (cg.ret_num != 0) | (cg.ret_den == 0)
    paying = ((reached > 0) | fed) & retains
    excluded = np.zeros(creator_count, bool)
    excluded[cg.own_creator[np.repeat(paying & fed, np.diff(cg.own_ptr))]] = True
    direct = np.flatnonzero(paying & ~fed)
    entries = _gather_rows(cg.own_ptr, direct)
    work = np.repeat(direct, cg.own_ptr[direct + 1] - cg.own_ptr[direct])
    creator = cg.own_creator[entries]
    own_num, own_den = cg.own_num[entries], cg.own_den[entries]
    ret_num, ret_den = cg.ret_num[work], cg.ret_den[work]
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
    return _Sure(~excluded[creator_idx], numerators[creator_idx], common)


def _settle_prepared(cg: CompactGraph, batch: _Batch) -> BatchSettlement:
    """Propagate a prepared batch over the whole graph and round it once (step 8)."""
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
                value[source] += _to_ld(portion.numerator, portion.denominator)
                rounded_injections[source] = rounded_injections.get(source, 0) + 1
        # A blended model injects into its sources directly, so its own citations
        # carry only the plain events' value (a separate pass keeps that exact).
        fed[list(rounded_injections)] = True
        reached_int = injected + extra
    _propagate_levels(cg, value, 0, fed)
    # The error bounds assume no product underflows: they are all at least the
    # smallest positive value times the smallest factor, so check that.
    smallest = np.min(value, where=value > 0, initial=np.inf)
    if smallest * cg.min_factor <= 2 * np.finfo(LD).tiny:
        raise InvalidInput(
            "values too small for the fast engine's error bound; use the exact engine"
        )
    reached = value + (reached_int - injected).astype(LD) if batch.blended else value
    estimate = np.zeros(len(cg.creators), LD)
    owning = np.flatnonzero(np.diff(cg.c_ptr) > 0)
    if owning.size:
        chunks = _Products().chunks(
            reached, cg.c_work, cg.c_weight, cg.c_ptr[owning], cg.c_work.size
        )
        for a, b, sums in chunks:
            estimate[owning[a:b]] = sums
    creator_idx = np.flatnonzero(estimate > 0).astype(np.int64)
    inject_rho = (max(rounded_injections.values(), default=0) + _INJECT_ROUNDINGS) * UNIT
    rho = cg.rho_creator[creator_idx] + inject_rho

    def injections(among: npt.NDArray[np.bool_]) -> list[Injection]:
        chosen = np.flatnonzero(among & (injected != 0))
        listed: list[Injection] = [
            (w, a, None) for w, a in zip(chosen.tolist(), injected[chosen].tolist(), strict=True)
        ]
        return listed + batch.blended

    live = (value > 0) | (reached_int > injected) if batch.blended else value > 0
    sure = _direct_entitlements(cg, creator_idx, reached_int, fed)
    creators, entitlements = _finish(
        cg, batch.distributable, creator_idx, estimate[creator_idx], rho, injections, live, sure
    )
    return BatchSettlement(
        events=batch.count,
        amount=batch.amount,
        fee=batch.fee,
        recouped=batch.recouped,
        distributable=batch.distributable,
        creators=creators,
        entitlements=entitlements,
    )


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
