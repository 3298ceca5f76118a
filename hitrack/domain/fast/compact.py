"""The compact graph: the contribution graph as flat arrays, numbered in topological order by level.

A :class:`CompactGraph` is made of a few named tables
(:mod:`hitrack.domain.fast.tables`): the works, their citations (by citing
work and by source), their payees (who their retained value is paid to), the
credits, pools and owners of the works that have credits, the citations'
layout for propagation by level, and the error bounds of that propagation. It is built and validated by
:mod:`hitrack.domain.fast.construction`, its layout and bounds derived by
:mod:`hitrack.domain.fast.layout`, and stored as one uncompressed ``.npz``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import repeat
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from hitrack.domain.errors import InvalidInput
from hitrack.domain.fast.arrays import I32, I64, LD, gather_rows
from hitrack.domain.fast.construction import Overflow, arrays_of_graph, core_from_arrays
from hitrack.domain.fast.layout import derive
from hitrack.domain.fast.tables import (
    CitationTable,
    CreditTable,
    ErrorBounds,
    LevelLayout,
    PayeeTable,
    WorkTable,
    table_arrays,
    table_from_arrays,
)
from hitrack.domain.graph import KINDS, Work, build_graph
from hitrack.domain.payees import Credit

__all__ = ["CompactGraph"]

# The stored form's version: a file of another version is refused, not misread.
STORAGE_FORMAT = 2
_TABLES: tuple[tuple[str, type[Any]], ...] = (
    ("works", WorkTable),
    ("citations", CitationTable),
    ("payees", PayeeTable),
    ("credits", CreditTable),
    ("layout", LevelLayout),
    ("bounds", ErrorBounds),
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

    works: WorkTable
    citations: CitationTable
    payees: PayeeTable
    credits: CreditTable
    layout: LevelLayout
    bounds: ErrorBounds
    creators: npt.NDArray[np.str_]
    _work_index: dict[str, int] | None = field(default=None, repr=False)
    _creator_index: dict[str, int] | None = field(default=None, repr=False)
    _level: I32 | None = field(default=None, repr=False)
    _creator_names: list[str] | None = field(default=None, repr=False)
    _creator_rank: I64 | None = field(default=None, repr=False)
    _min_factor: np.longdouble | None = field(default=None, repr=False)
    _sorted_ids: tuple[npt.NDArray[np.str_], I64] | None = field(default=None, repr=False)

    # -- construction ------------------------------------------------------

    @classmethod
    def from_graph(cls, G: nx.DiGraph) -> CompactGraph:
        """Compact a graph built by :func:`~hitrack.domain.graph.build_graph`."""
        return cls.from_arrays(**arrays_of_graph(G))

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
        credit_work: npt.NDArray[Any] | None = None,
        credit_payee: npt.NDArray[Any] | None = None,
        credit_role: Sequence[str] | None = None,
        credit_num: npt.NDArray[Any] | None = None,
        credit_den: npt.NDArray[Any] | None = None,
        pool_num: npt.NDArray[Any] | None = None,
        pool_den: npt.NDArray[Any] | None = None,
        overflow: Overflow | None = None,
    ) -> CompactGraph:
        """Validate and compact a graph given as arrays of indices and exact rationals.

        Edges are ``edge_work[i] -> edge_source[i]`` with share
        ``share_num[i] / share_den[i]``; ownership entries (``owner_work``,
        ``owner_creator``, ``own_num / own_den``) and attribution weights
        likewise; credits and credit pools are described at
        :func:`~hitrack.domain.fast.construction.core_from_arrays` (``creators``
        lists every owner and credited payee). A zero denominator means the
        exact value is in ``overflow``. The graph rules of
        :func:`~hitrack.domain.graph.build_graph` are enforced (consent aside).
        """
        core = core_from_arrays(
            ids=ids,
            kinds=kinds,
            creators=creators,
            edge_work=edge_work,
            edge_source=edge_source,
            share_num=share_num,
            share_den=share_den,
            owner_work=owner_work,
            owner_creator=owner_creator,
            own_num=own_num,
            own_den=own_den,
            aw_num=aw_num,
            aw_den=aw_den,
            titles=titles,
            consent_remix=consent_remix,
            consent_ai=consent_ai,
            credit_work=credit_work,
            credit_payee=credit_payee,
            credit_role=credit_role,
            credit_num=credit_num,
            credit_den=credit_den,
            pool_num=pool_num,
            pool_den=pool_den,
            overflow=overflow,
        )
        derived = derive(core)
        return cls(
            works=derived.works,
            citations=derived.citations,
            payees=derived.payees,
            credits=derived.credits,
            layout=derived.layout,
            bounds=derived.bounds,
            creators=core.creators,
        )

    # -- sizes and lookups ------------------------------------------------

    @property
    def ids(self) -> npt.NDArray[np.str_]:
        """Work ids by position."""
        return self.works.ids

    @property
    def work_count(self) -> int:
        return len(self.works.ids)

    @property
    def edge_count(self) -> int:
        return len(self.citations.source)

    @property
    def level_count(self) -> int:
        return len(self.works.level_ptr) - 1

    def index_of(self, work: str) -> int | None:
        """The position of ``work``, or None when it is not in the graph."""
        return self.work_index.get(work)

    @property
    def work_index(self) -> dict[str, int]:
        """Position of every work id (built once)."""
        if self._work_index is None:
            self._work_index = {work_id: i for i, work_id in enumerate(self.ids.tolist())}
        return self._work_index

    def positions_of(self, works: list[str]) -> I64:
        """Positions of many work ids at once (-1 for ids not in the graph).

        Vectorised over a copy of the ids in sorted order: one lookup in a
        dict of millions of ids costs a few cache misses, a sorted search of
        sorted queries is far cheaper per id.
        """
        query = np.array(works, dtype=str) if works else np.array([], dtype=self.ids.dtype)
        if self._sorted_ids is None:
            order = np.argsort(self.ids, kind="stable")
            self._sorted_ids = self.ids[order], order
        sorted_ids, order = self._sorted_ids
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
        """The smallest positive factor values are multiplied by (shares, payees' weights).

        A settlement whose smallest positive value times this stays a normal
        number never underflows, which the error bounds assume.
        """
        if self._min_factor is None:
            payees = self.payees
            earns = np.repeat(self.works.retained.nonzero(), np.diff(payees.ptr))
            weights = payees.weight[earns & payees.share.nonzero()]
            self._min_factor = min(
                self.layout.share.min(initial=LD(1)), weights.min(initial=LD(1)), LD(1)
            )
        return self._min_factor

    @property
    def level(self) -> I32:
        """Each work's level."""
        if self._level is None:
            self._level = np.repeat(
                np.arange(self.level_count, dtype=np.int32), np.diff(self.works.level_ptr)
            )
        return self._level

    def sources_of(self, work: int) -> dict[int, Fraction]:
        """The sources of the work at ``work`` (positions) and their exact shares."""
        citations = self.citations
        return {
            int(citations.source[e]): citations.share[e]
            for e in range(int(citations.ptr[work]), int(citations.ptr[work + 1]))
        }

    def payees_of(self, work: int) -> dict[str, Fraction]:
        """The payees of the work at ``work`` and their exact parts of its retained value."""
        payees = self.payees
        return {
            self.creator_names[int(payees.payee[k])]: payees.share[k]
            for k in range(int(payees.ptr[work]), int(payees.ptr[work + 1]))
        }

    def credit_rows(self, works: npt.NDArray[Any]) -> I64:
        """Each work's row in the credit table, or -1 for a work without credits."""
        listed = self.credits.works
        found = np.searchsorted(listed, works)
        hit = found < listed.size
        hit[hit] = listed[found[hit]] == np.asarray(works)[hit]
        result: I64 = np.where(hit, found, -1).astype(np.int64)
        return result

    def owners_of(self, work: int) -> dict[str, Fraction]:
        """The owners of the work at ``work`` and their exact fractions (who recoup its costs)."""
        row = int(self.credit_rows(np.array([work]))[0])
        if row < 0:
            return self.payees_of(work)  # no credits: the payees are the owners
        credits = self.credits
        return {
            self.creator_names[int(credits.owner[k])]: credits.ownership[k]
            for k in range(int(credits.owner_ptr[row]), int(credits.owner_ptr[row + 1]))
        }

    def credits_of(self, work: int) -> tuple[Credit, ...]:
        """The credits of the work at ``work``, in the order given."""
        row = int(self.credit_rows(np.array([work]))[0])
        if row < 0:
            return ()
        credits = self.credits
        return tuple(
            Credit(
                self.creator_names[int(credits.payee[k])], str(credits.role[k]), credits.weight[k]
            )
            for k in range(int(credits.credit_ptr[row]), int(credits.credit_ptr[row + 1]))
        )

    def credit_pool_of(self, work: int) -> Fraction:
        """The credit pool of the work at ``work`` (0 for a work without credits)."""
        row = int(self.credit_rows(np.array([work]))[0])
        return Fraction(0) if row < 0 else self.credits.pool[row]

    def manifest_of(self, work: int) -> list[str]:
        """The ids of the works the work at ``work`` cites (a model's manifest)."""
        citations = self.citations
        return [
            str(self.ids[s])
            for s in citations.source[citations.ptr[work] : citations.ptr[work + 1]]
        ]

    # -- storage -----------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the graph, layout and bounds included, as an uncompressed ``.npz``."""
        arrays: dict[str, Any] = {"creators": self.creators}
        overflow: dict[str, Any] = {}
        for name, _ in _TABLES:
            table, exact = table_arrays(name, getattr(self, name))
            arrays.update(table)
            overflow.update(exact)
        header = json.dumps({"format": STORAGE_FORMAT, "overflow": overflow}, sort_keys=True)
        with open(path, "wb") as handle:
            np.savez(handle, header=np.array(header), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> CompactGraph:
        """Read a graph written by :meth:`save`; nothing is recomputed."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"])) if "header" in data else {}
            if header.get("format") != STORAGE_FORMAT:
                raise InvalidInput(
                    f"{path}: not a compact graph of storage format {STORAGE_FORMAT}; "
                    "compact the graph again"
                )
            tables = {
                name: table_from_arrays(table, name, data, header["overflow"])
                for name, table in _TABLES
            }
            graph = cls(**tables, creators=data["creators"])
        graph.index_of("")  # lookups by id and level are part of loading, not of settling
        _ = graph.level, graph.creator_names, graph.creator_rank, graph.min_factor
        graph.positions_of(["", "w"])  # the sorted copy of the ids
        return graph

    # -- back to networkx --------------------------------------------------

    def to_graph(self, nodes: Iterable[int] | None = None) -> nx.DiGraph:
        """The graph (or the subgraph on ``nodes``, closed under citation) as networkx."""
        chosen = range(self.work_count) if nodes is None else sorted(set(nodes))
        works = self.works
        listed = []
        for i in chosen:
            listed.append(
                Work(
                    id=str(works.ids[i]),
                    kind=KINDS[int(works.kinds[i])],
                    owners=self.owners_of(i),
                    sources={str(works.ids[s]): share for s, share in self.sources_of(i).items()},
                    attribution_weight=works.attribution_weight[i],
                    consent_remix=bool(works.consent_remix[i]),
                    consent_ai_training=bool(works.consent_ai_training[i]),
                    title=str(works.titles[i]),
                    credits=self.credits_of(i),
                    credit_pool=self.credit_pool_of(i),
                )
            )
        return build_graph(listed)

    # -- walks ---------------------------------------------------------------

    def ancestry_mask(self, start: int) -> npt.NDArray[np.bool_]:
        """Works reachable from ``start`` along citations, ``start`` included."""
        ptr, source = self.citations.ptr, self.citations.source
        mark = np.zeros(self.work_count, bool)
        mark[start] = True
        frontier = np.array([start], np.int64)
        while frontier.size:
            reached = source[gather_rows(ptr, frontier)]
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
        ptr, citing = self.citations.citer_ptr, self.citations.citer
        mark = np.zeros(self.work_count, bool)
        frontier = np.unique(np.asarray(starts, np.int64))
        if allowed is not None:
            frontier = frontier[allowed[frontier]]
        mark[frontier] = True
        while frontier.size:
            reached = citing[gather_rows(ptr, frontier)]
            reached = reached[~mark[reached]]
            if allowed is not None:
                reached = reached[allowed[reached]]
            if not reached.size:
                break
            frontier = np.unique(reached).astype(np.int64)
            mark[frontier] = True
        return mark
