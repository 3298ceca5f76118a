"""Building a compact graph: from networkx or from arrays, every graph rule checked.

:func:`core_from_arrays` enforces the rules of
:func:`~hitrack.domain.graph.build_graph` (consent aside) on arrays, in bulk,
and renumbers the works by (level, id): a topological order that does not
depend on the input order. What it returns, :class:`Core`, is the validated
graph; :mod:`hitrack.domain.fast.layout` derives the rest from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from hitrack.domain.errors import CycleError, InvalidCitation, InvalidInput, InvalidShare
from hitrack.domain.fast.arrays import I32, I64, INT64_LIMIT, Rationals, gather_rows, row_sums
from hitrack.domain.fast.tables import CreditTable
from hitrack.domain.graph import KINDS
from hitrack.domain.payees import UNCLAIMED_PREFIX, Credit, check_credits, payee_shares

__all__ = ["Overflow", "Core", "arrays_of_graph", "core_from_arrays"]


@dataclass(frozen=True)
class Overflow:
    """Exact input values beyond int64, by input position; their denominator is given as 0."""

    shares: Mapping[int, Fraction] = field(default_factory=dict)
    ownerships: Mapping[int, Fraction] = field(default_factory=dict)
    attribution_weights: Mapping[int, Fraction] = field(default_factory=dict)
    credit_weights: Mapping[int, Fraction] = field(default_factory=dict)
    credit_pools: Mapping[int, Fraction] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Core:
    """A validated graph, works numbered by (level, id), citations and payees sorted by work."""

    ids: npt.NDArray[np.str_]
    kinds: npt.NDArray[np.int8]
    titles: npt.NDArray[np.str_]
    consent_remix: npt.NDArray[np.bool_]
    consent_ai_training: npt.NDArray[np.bool_]
    creators: npt.NDArray[np.str_]
    level: I64
    citation_ptr: I64
    citation_source: I32
    shares: Rationals
    payee_ptr: I64
    payee: I32
    payee_share: Rationals
    credits: CreditTable
    retained: Rationals
    attribution_weight: Rationals


def arrays_of_graph(G: nx.DiGraph) -> dict[str, Any]:
    """The keyword arguments of :func:`core_from_arrays` for a graph built by ``build_graph``."""
    work_ids = sorted(G)
    position = {work: i for i, work in enumerate(work_ids)}
    nodes = [G.nodes[w] for w in work_ids]
    credits: list[Sequence[Credit]] = [data.get("credits", ()) for data in nodes]
    creator_ids = sorted(
        {c for data in nodes for c in data["owners"]}
        | {credit.payee for listed in credits for credit in listed}
    )
    creator_pos = {c: i for i, c in enumerate(creator_ids)}
    edge_work, edge_source, shares = [], [], []
    owner_work, owner_creator, ownerships = [], [], []
    credit_work, credit_payee, credit_role, credit_weights = [], [], [], []
    for i, work in enumerate(work_ids):
        for _, source, data in sorted(G.out_edges(work, data=True)):
            edge_work.append(i)
            edge_source.append(position[source])
            shares.append(data["share"])
        for creator, fraction in sorted(nodes[i]["owners"].items()):
            owner_work.append(i)
            owner_creator.append(creator_pos[creator])
            ownerships.append(fraction)
        for credit in credits[i]:
            credit_work.append(i)
            credit_payee.append(creator_pos[credit.payee])
            credit_role.append(credit.role)
            credit_weights.append(credit.weight)
    share_column = Rationals.of(shares)
    own_column = Rationals.of(ownerships)
    aw_column = Rationals.of([data["attribution_weight"] for data in nodes])
    weight_column = Rationals.of(credit_weights)
    pool_column = Rationals.of([data.get("credit_pool", Fraction(0)) for data in nodes])
    return {
        "ids": work_ids,
        "kinds": [G.nodes[w]["kind"] for w in work_ids],
        "creators": creator_ids,
        "edge_work": np.array(edge_work, np.int64),
        "edge_source": np.array(edge_source, np.int64),
        "share_num": share_column.num,
        "share_den": share_column.den,
        "owner_work": np.array(owner_work, np.int64),
        "owner_creator": np.array(owner_creator, np.int64),
        "own_num": own_column.num,
        "own_den": own_column.den,
        "aw_num": aw_column.num,
        "aw_den": aw_column.den,
        "titles": [G.nodes[w]["title"] for w in work_ids],
        "consent_remix": [G.nodes[w]["consent_remix"] for w in work_ids],
        "consent_ai": [G.nodes[w]["consent_ai_training"] for w in work_ids],
        "credit_work": np.array(credit_work, np.int64),
        "credit_payee": np.array(credit_payee, np.int64),
        "credit_role": credit_role,
        "credit_num": weight_column.num,
        "credit_den": weight_column.den,
        "pool_num": pool_column.num,
        "pool_den": pool_column.den,
        "overflow": Overflow(
            share_column.overflow,
            own_column.overflow,
            aw_column.overflow,
            weight_column.overflow,
            pool_column.overflow,
        ),
    }


def _levels(n: int, edge_work: I64, edge_source: I64, name: Any) -> I64:
    """Each work's level (Kahn's algorithm one whole generation at a time); leftovers are a cycle."""
    by_work = np.argsort(edge_work, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(edge_work, minlength=n), out=ptr[1:])
    level = np.full(n, -1, np.int64)
    waiting = np.bincount(edge_source, minlength=n)
    frontier = np.flatnonzero(waiting == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        targets = edge_source[by_work[gather_rows(ptr, frontier)]]
        if targets.size:
            hit, count = np.unique(targets, return_counts=True)
            waiting[hit] -= count
            frontier = hit[waiting[hit] == 0]
        else:
            frontier = frontier[:0]
        depth += 1
    if (level < 0).any():
        stuck = np.flatnonzero(level < 0)
        mask = np.isin(edge_work, stuck) & np.isin(edge_source, stuck)
        sub = nx.DiGraph()
        sub.add_edges_from(zip(edge_work[mask].tolist(), edge_source[mask].tolist(), strict=True))
        cycle = [name(a) for a, _ in nx.find_cycle(sub)]
        raise CycleError(
            "citations form a cycle: " + " -> ".join([*cycle, cycle[0]]), ids=tuple(cycle)
        )
    return level


def core_from_arrays(
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
) -> Core:
    """Validate a graph given as arrays of indices and exact rationals.

    Edges are ``edge_work[i] -> edge_source[i]`` with share
    ``share_num[i] / share_den[i]``; ownership entries and attribution weights
    likewise. Credits are ``credit_work[i]`` crediting ``creators[credit_payee[i]]``
    as ``credit_role[i]`` with weight ``credit_num[i] / credit_den[i]`` (a
    work's credits in the order given), and each work's credit pool is
    ``pool_num / pool_den`` (default 0). A zero denominator means the exact
    value is in ``overflow`` at that input position. The graph rules of
    :func:`~hitrack.domain.graph.build_graph` are enforced (consent aside),
    and each work's payees computed by :func:`~hitrack.domain.payees.payee_shares`.
    """
    n = len(ids)
    inputs = overflow or Overflow()
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
    cited_by = np.asarray(edge_work, np.int64)
    cited = np.asarray(edge_source, np.int64)
    shares = Rationals.columns(share_num, share_den, inputs.shares)
    owned = np.asarray(owner_work, np.int64)
    owner = np.asarray(owner_creator, np.int64)
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
        owner = new_of_old_creator[owner]
    else:
        new_of_old_creator = np.arange(creator_array.size, dtype=np.int64)
    ownerships = Rationals.columns(own_num, own_den, inputs.ownerships)
    weights = Rationals.columns(
        np.zeros(n, np.int64) if aw_num is None else aw_num,
        np.ones(n, np.int64) if aw_den is None else aw_den,
        inputs.attribution_weights,
    )

    def name(i: int) -> str:
        return str(id_array[i])

    # Rules on single values, vectorised; a zero denominator defers to Python.
    sn, sd = shares.num, shares.den
    for e in np.flatnonzero(sd == 0).tolist():
        value = shares[e]
        if not 0 < value <= 1:
            raise InvalidShare(
                f"citation {name(cited_by[e])} -> {name(cited[e])}: share {value} is outside (0, 1]",
                ids=(name(cited_by[e]), name(cited[e])),
            )
    bad_share = (sd != 0) & ((sn <= 0) | (sd < 0) | (sn > sd))
    if bad_share.any():
        e = int(np.flatnonzero(bad_share)[0])
        raise InvalidShare(
            f"citation {name(cited_by[e])} -> {name(cited[e])}: share {sn[e]}/{sd[e]} is outside (0, 1]",
            ids=(name(cited_by[e]), name(cited[e])),
        )
    if (cited_by == cited).any():
        w = name(int(cited_by[np.flatnonzero(cited_by == cited)[0]]))
        raise InvalidCitation(f"work {w} cites itself", ids=(w,))
    on, od = ownerships.num, ownerships.den
    bad_own = (od != 0) & ((on <= 0) | (od < 0))
    if bad_own.any():
        k = int(np.flatnonzero(bad_own)[0])
        raise InvalidShare(
            f"work {name(owned[k])}: ownership must be positive", ids=(name(owned[k]),)
        )
    an, ad = weights.num, weights.den
    bad_aw = (ad != 0) & ((an < 0) | (ad < 0) | (an > ad))
    if bad_aw.any():
        w = name(int(np.flatnonzero(bad_aw)[0]))
        raise InvalidShare(f"work {w}: attribution_weight is outside [0, 1]", ids=(w,))
    for position, value in weights.overflow.items():
        if not 0 <= value <= 1:
            w = name(position)
            raise InvalidShare(f"work {w}: attribution_weight is outside [0, 1]", ids=(w,))

    level = _levels(n, cited_by, cited, name)

    # Renumber by (level, id): a topological order that does not depend on input order.
    new_order = np.lexsort((id_array, level))
    new_of_old = np.empty(n, np.int64)
    new_of_old[new_order] = np.arange(n)
    cited_by, cited = new_of_old[cited_by], new_of_old[cited]
    edge_order = np.lexsort((cited, cited_by))
    cited_by, cited, shares = cited_by[edge_order], cited[edge_order], shares.take(edge_order)
    pair = cited_by * n + cited
    if pair.size > 1 and (np.diff(pair) == 0).any():
        e = int(np.flatnonzero(np.diff(pair) == 0)[0])
        citing_id, source_id = name(int(new_order[cited_by[e]])), name(int(new_order[cited[e]]))
        raise InvalidCitation(
            f"work {citing_id} cites {source_id} twice", ids=(citing_id, source_id)
        )
    level = level[new_order]
    citation_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(cited_by, minlength=n), out=citation_ptr[1:])

    # Exact sums of shares per work: above 1 is an error, the rest is retained.
    sum_num, sum_den, slow = row_sums(citation_ptr, shares)
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
    ret_overflow: dict[int, Fraction] = {}
    for row, total in slow.items():
        ret = 1 - total
        if abs(ret.numerator) < INT64_LIMIT and ret.denominator < INT64_LIMIT:
            ret_num[row], ret_den[row] = ret.numerator, ret.denominator
        else:
            ret_num[row], ret_den[row] = 0, 0
            ret_overflow[row] = ret

    # Owners, grouped by work, then checked to sum to exactly 1.
    owned = new_of_old[owned]
    owner_order = np.lexsort((owner, owned))
    owned, owner, ownerships = owned[owner_order], owner[owner_order], ownerships.take(owner_order)
    for k, value in ownerships.overflow.items():
        if value <= 0:
            w = name(int(new_order[owned[k]]))
            raise InvalidShare(f"work {w}: ownership must be positive", ids=(w,))
    owner_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owned, minlength=n), out=owner_ptr[1:])
    if (np.diff(owner_ptr) == 0).any():
        w = name(int(new_order[np.flatnonzero(np.diff(owner_ptr) == 0)[0]]))
        raise InvalidShare(f"work {w} has no owners", ids=(w,))
    if owner.size > 1 and ((np.diff(owned * len(creators) + owner)) == 0).any():
        k = int(np.flatnonzero(np.diff(owned * len(creators) + owner) == 0)[0])
        w = name(int(new_order[owned[k]]))
        raise InvalidShare(f"work {w} lists an owner twice", ids=(w,))
    o_num, o_den, o_slow = row_sums(owner_ptr, ownerships)
    wrong = (o_num != o_den) & ~np.isin(np.arange(n), list(o_slow))
    wrong_rows = np.flatnonzero(wrong).tolist() + [r for r, t in o_slow.items() if t != 1]
    if wrong_rows:
        w = name(int(new_order[wrong_rows[0]]))
        raise InvalidShare(f"work {w}: owners' fractions do not sum to exactly 1", ids=(w,))

    credit_table, payees = _credits_and_payees(
        n=n,
        new_of_old=new_of_old,
        new_of_old_creator=new_of_old_creator,
        creators=creator_array,
        work_ids=id_array[new_order],
        owners=(owner_ptr, owner, ownerships),
        credit_work=credit_work,
        credit_payee=credit_payee,
        credit_role=credit_role,
        credit_weight=Rationals.columns(
            credit_num if credit_num is not None else [],
            credit_den if credit_den is not None else [],
            inputs.credit_weights,
        ),
        pools=Rationals.columns(
            np.zeros(n, np.int64) if pool_num is None else pool_num,
            np.ones(n, np.int64) if pool_den is None else pool_den,
            inputs.credit_pools,
        ).take(new_order),
    )

    return Core(
        ids=id_array[new_order],
        kinds=kind_codes[new_order],
        titles=np.asarray(titles if titles is not None else [""] * n, dtype=str)[new_order],
        consent_remix=np.asarray(consent_remix if consent_remix is not None else [True] * n, bool)[
            new_order
        ],
        consent_ai_training=np.asarray(consent_ai if consent_ai is not None else [False] * n, bool)[
            new_order
        ],
        creators=creator_array,
        level=level,
        citation_ptr=citation_ptr,
        citation_source=cited.astype(np.int32),
        shares=shares,
        payee_ptr=payees[0],
        payee=payees[1].astype(np.int32),
        payee_share=payees[2],
        credits=credit_table,
        retained=Rationals(ret_num, ret_den, ret_overflow),
        attribution_weight=weights.take(new_order),
    )


def _credits_and_payees(
    *,
    n: int,
    new_of_old: I64,
    new_of_old_creator: I64,
    creators: npt.NDArray[np.str_],
    work_ids: npt.NDArray[np.str_],
    owners: tuple[I64, I64, Rationals],
    credit_work: npt.NDArray[Any] | None,
    credit_payee: npt.NDArray[Any] | None,
    credit_role: Sequence[str] | None,
    credit_weight: Rationals,
    pools: Rationals,
) -> tuple[CreditTable, tuple[I64, I64, Rationals]]:
    """Check the credits and pools (by the rules of ``check_credits``), then each work's payees.

    Works are in their new positions already (``pools`` too); credits are
    given in input positions. A work with a pool of 0 pays its owners: its
    payees are its owner entries, as :func:`payee_shares` would give.
    """
    owner_ptr, owner, ownerships = owners
    count = 0 if credit_work is None else len(credit_work)
    if count and (credit_payee is None or credit_role is None or len(credit_weight) != count):
        raise InvalidInput("credits need a payee, a role and a weight each")
    at = new_of_old[np.asarray(credit_work if count else [], np.int64)]
    to = np.asarray(credit_payee if count else [], np.int64)
    if ((to < 0) | (to >= creators.size)).any():
        raise InvalidInput("a credit names a creator that is not in the creators")
    to = new_of_old_creator[to]
    roles = np.asarray(credit_role if count else [], dtype=str)
    # A stable sort keeps each work's credits in the order given.
    order = np.argsort(at, kind="stable")
    at, to, roles, weights = at[order], to[order], roles[order], credit_weight.take(order)
    per_work = np.bincount(at, minlength=n)
    start = np.zeros(n + 1, np.int64)
    np.cumsum(per_work, out=start[1:])

    def credits_of(w: int) -> list[Credit]:
        return [
            Credit(str(creators[to[k]]), str(roles[k]), weights[k])
            for k in range(int(start[w]), int(start[w + 1]))
        ]

    # Find the works breaking a rule in bulk; check_credits words the error.
    payee_names = creators[to]
    bad_credit = (
        ((weights.den != 0) & ((weights.num <= 0) | (weights.den < 0)))
        | (np.char.str_len(np.char.strip(roles)) == 0)
        | (np.char.str_len(payee_names) == 0)
        | (payee_names == UNCLAIMED_PREFIX)
    )
    bad_credit[[k for k, v in weights.overflow.items() if v <= 0]] = True
    bad = np.zeros(n, bool)
    bad[at[bad_credit]] = True
    bad |= (pools.den != 0) & ((pools.num < 0) | (pools.den < 0) | (pools.num > pools.den))
    bad[[w for w, v in pools.overflow.items() if not 0 <= v <= 1]] = True
    bad |= pools.nonzero() & (per_work == 0)
    if bad.any():
        w = int(np.flatnonzero(bad)[0])
        check_credits(str(work_ids[w]), credits_of(w), pools[w])
        raise InvalidInput(f"work {work_ids[w]}: invalid credits", ids=(str(work_ids[w]),))

    listed = np.flatnonzero(per_work > 0)
    credit_ptr = np.zeros(listed.size + 1, np.int64)
    np.cumsum(per_work[listed], out=credit_ptr[1:])
    owner_entries = gather_rows(owner_ptr, listed)
    listed_owner_ptr = np.zeros(listed.size + 1, np.int64)
    np.cumsum(np.diff(owner_ptr)[listed], out=listed_owner_ptr[1:])
    table = CreditTable(
        works=listed.astype(np.int32),
        pool=pools.take(listed),
        credit_ptr=credit_ptr,
        payee=to.astype(np.int32),
        role=roles,
        weight=weights,
        owner_ptr=listed_owner_ptr,
        owner=owner[owner_entries].astype(np.int32),
        ownership=ownerships.take(owner_entries),
    )

    pooled = listed[pools.take(listed).nonzero()]
    if not pooled.size:
        return table, (owner_ptr, owner, ownerships)
    names = creators.tolist()
    index = {person: i for i, person in enumerate(names)}
    extra_work: list[int] = []
    extra_payee: list[int] = []
    extra_share: list[Fraction] = []
    for w in pooled.tolist():
        owned = {
            names[int(owner[k])]: ownerships[k]
            for k in range(int(owner_ptr[w]), int(owner_ptr[w + 1]))
        }
        for person, part in payee_shares(owned, credits_of(w), pools[w]).items():
            extra_work.append(w)
            extra_payee.append(index[person])
            extra_share.append(part)
    owner_work = np.repeat(np.arange(n, dtype=np.int64), np.diff(owner_ptr))
    is_pooled = np.zeros(n, bool)
    is_pooled[pooled] = True
    kept = np.flatnonzero(~is_pooled[owner_work])
    payee_work = np.concatenate([owner_work[kept], np.array(extra_work, np.int64)])
    payee = np.concatenate([owner[kept].astype(np.int64), np.array(extra_payee, np.int64)])
    share = Rationals.concatenate([ownerships.take(kept), Rationals.of(extra_share)])
    by_work = np.lexsort((payee, payee_work))
    payee_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(payee_work, minlength=n), out=payee_ptr[1:])
    return table, (payee_ptr, payee[by_work], share.take(by_work))
