"""The compact graph: the contribution graph as flat arrays, numbered in topological order by level."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import repeat
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from hitrack.domain.fast import construction
from hitrack.domain.fast.arrays import (
    F64,
    I32,
    I64,
    LD,
    LDA,
    _gather_rows,
)
from hitrack.domain.graph import KINDS, build_graph

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
        return construction.compact_from_graph(cls, G)

    @classmethod
    def from_arrays(cls, **arrays: Any) -> CompactGraph:
        """Validate and compact a graph given as arrays (see :func:`construction.compact_from_arrays`)."""
        return construction.compact_from_arrays(cls, **arrays)

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
