"""Building a compact graph: from networkx or from arrays, every graph rule checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from hitrack.domain.errors import (
    CycleError,
    InvalidCitation,
    InvalidInput,
    InvalidShare,
)
from hitrack.domain.fast.arrays import (
    _gather_rows,
    _row_sums,
    _split_fractions,
)
from hitrack.domain.fast.layout import derive
from hitrack.domain.graph import KINDS

if TYPE_CHECKING:
    from hitrack.domain.fast.compact import CompactGraph


def compact_from_graph(cls: type[CompactGraph], G: nx.DiGraph) -> CompactGraph:
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
    return compact_from_arrays(
        cls,
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


def compact_from_arrays(
    cls: type[CompactGraph],
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
            dup_c = str(creator_array[np.flatnonzero(creator_array[1:] == creator_array[:-1])[0]])
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
        raise InvalidShare(f"work {name(ow[k])}: ownership must be positive", ids=(name(ow[k]),))
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

    graph = derive(
        cls,
        ids=id_array[new_order],
        kinds=kind_codes[new_order],
        titles=np.asarray(titles if titles is not None else [""] * n, dtype=str)[new_order],
        consent_remix=np.asarray(consent_remix if consent_remix is not None else [True] * n, bool)[
            new_order
        ],
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
