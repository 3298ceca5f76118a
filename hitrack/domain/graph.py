"""The contribution graph and its rules, in one place.

Works are nodes of a :class:`networkx.DiGraph` keyed by work id; a citation is
an edge ``work -> source`` whose ``share`` (an exact
:class:`~fractions.Fraction`) is the part of the work's value that belongs to
the source. The graph is acyclic, a work's shares sum to at most 1 (the rest
is its *retained share*, paid to its payees: its owners, and its credits
through its credit pool, :mod:`hitrack.domain.payees`), and owners' fractions
sum to exactly 1.

Two entry points enforce the rules:

* :func:`build_graph` validates a whole set of works (an import, a stored
  graph) before building anything. It does not check consent: consent is a
  rule at citation time, and revoking it never rewrites the past.
* :func:`check_citation` / :func:`add_citation` apply the citation-time rules,
  consent included, to one new edge; a rejected citation changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import networkx as nx

from hitrack.domain.errors import (
    ConsentRequired,
    CycleError,
    InvalidCitation,
    InvalidInput,
    InvalidShare,
    UnknownWork,
)
from hitrack.domain.payees import Credit, check_credits

__all__ = [
    "KINDS",
    "Work",
    "build_graph",
    "check_work",
    "check_citation",
    "add_citation",
    "add_citations",
    "retained_share",
    "ancestry",
    "works_of",
    "subgraph_for",
]

KINDS = ("record", "production", "model")


@dataclass(frozen=True)
class Work:
    """One node of the contribution graph, as plain values.

    Examples
    --------
    >>> Work("r1", "record", {"alice": Fraction(1)}).consent_ai_training
    False
    """

    id: str
    kind: str
    owners: Mapping[str, Fraction]
    sources: Mapping[str, Fraction] = field(default_factory=dict)
    attribution_weight: Fraction = Fraction(0)
    consent_remix: bool = True
    consent_ai_training: bool = False
    title: str = ""
    credits: tuple[Credit, ...] = ()
    credit_pool: Fraction = Fraction(0)


def check_work(work: Work, *, min_credit_pool: Fraction = Fraction(0)) -> None:
    """Check the rules a work satisfies on its own (owners, shares, credits), as
    :func:`build_graph` does for each work; importers that stream works call it
    one work at a time.

    Examples
    --------
    >>> check_work(Work("r1", "record", {"a": Fraction(1, 2)}))
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidShare: work r1: owners' fractions sum to 1/2, not exactly 1
    """
    if not isinstance(work.id, str) or not work.id:
        raise InvalidInput(f"work id {work.id!r} must be a non-empty string")
    if work.kind not in KINDS:
        raise InvalidInput(
            f"work {work.id}: unknown kind {work.kind!r} (expected one of {', '.join(KINDS)})",
            ids=(work.id,),
        )
    if not work.owners:
        raise InvalidShare(f"work {work.id} has no owners", ids=(work.id,))
    for creator, fraction in work.owners.items():
        if not isinstance(creator, str) or not creator:
            raise InvalidInput(f"work {work.id}: owner id {creator!r} must be a non-empty string")
        if fraction <= 0:
            raise InvalidShare(
                f"work {work.id}: ownership of {creator} must be positive, got {fraction}",
                ids=(work.id, creator),
            )
    total = sum(work.owners.values(), Fraction(0))
    if total != 1:
        raise InvalidShare(
            f"work {work.id}: owners' fractions sum to {total}, not exactly 1", ids=(work.id,)
        )
    if not 0 <= work.attribution_weight <= 1:
        raise InvalidShare(
            f"work {work.id}: attribution_weight {work.attribution_weight} is outside [0, 1]",
            ids=(work.id,),
        )
    check_credits(work.id, work.credits, work.credit_pool, min_credit_pool=min_credit_pool)
    for source, share in work.sources.items():
        if source == work.id:
            raise InvalidCitation(f"work {work.id} cites itself", ids=(work.id,))
        _check_share_range(work.id, source, share)
    total = sum(work.sources.values(), Fraction(0))
    if total > 1:
        raise InvalidCitation(
            f"work {work.id}: source shares sum to {total}, above 1", ids=(work.id,)
        )


def _check_share_range(work: str, source: str, share: Fraction) -> None:
    if not 0 < share <= 1:
        raise InvalidShare(
            f"citation {work} -> {source}: share {share} is outside (0, 1]", ids=(work, source)
        )


def build_graph(works: Iterable[Work], *, min_credit_pool: Fraction = Fraction(0)) -> nx.DiGraph:
    """Validate a whole set of works, then build their contribution graph.

    Parameters
    ----------
    works : iterable of Work
        Every work, each with its sources; sources must be in the set.
    min_credit_pool : Fraction
        The least credit pool of a work with credits (the platform's
        ``HITRACK_MIN_CREDIT_POOL``, for new works; stored graphs use 0).

    Returns
    -------
    networkx.DiGraph
        Nodes keyed by work id with attributes ``kind``, ``owners``,
        ``attribution_weight``, ``consent_remix``, ``consent_ai_training``,
        ``title``, ``credits`` and ``credit_pool``; edges ``work -> source``
        with attribute ``share``.

    Raises
    ------
    InvalidInput, InvalidShare, InvalidCitation, UnknownWork, CycleError
        The first broken rule, naming the offending ids. Nothing is built.

    Examples
    --------
    >>> G = build_graph([
    ...     Work("r1", "record", {"alice": Fraction(1)}),
    ...     Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)}),
    ... ])
    >>> G["p1"]["r1"]["share"], retained_share(G, "p1")
    (Fraction(3, 10), Fraction(7, 10))
    """
    by_id: dict[str, Work] = {}
    for work in works:
        check_work(work, min_credit_pool=min_credit_pool)
        if work.id in by_id:
            raise InvalidInput(f"duplicate work id {work.id}", ids=(work.id,))
        by_id[work.id] = work
    for work in by_id.values():
        for source in work.sources:
            if source not in by_id:
                raise UnknownWork(
                    f"work {work.id} cites unknown work {source}", ids=(work.id, source)
                )
    G = nx.DiGraph()
    for work in by_id.values():
        G.add_node(
            work.id,
            kind=work.kind,
            owners=dict(work.owners),
            attribution_weight=Fraction(work.attribution_weight),
            consent_remix=bool(work.consent_remix),
            consent_ai_training=bool(work.consent_ai_training),
            title=work.title,
            credits=tuple(work.credits),
            credit_pool=Fraction(work.credit_pool),
        )
    for work in by_id.values():
        for source, share in work.sources.items():
            G.add_edge(work.id, source, share=Fraction(share))
    if not nx.is_directed_acyclic_graph(G):
        cycle = [edge[0] for edge in nx.find_cycle(G)]
        raise CycleError(
            "citations form a cycle: " + " -> ".join([*cycle, cycle[0]]), ids=tuple(cycle)
        )
    return G


def _require(G: nx.DiGraph, work: str) -> None:
    if work not in G:
        raise UnknownWork(f"unknown work {work}", ids=(work,))


def check_citation(G: nx.DiGraph, work: str, source: str, share: Fraction) -> None:
    """Check that ``work`` may cite ``source`` with ``share``, without changing ``G``.

    The rules, in order: both works exist; a work does not cite itself; the
    share lies in (0, 1]; the work does not cite the source already; its shares
    stay at most 1; the source's owners consent (a model needs a record with
    ``ai_training`` consent, anything else a source with ``remix`` consent);
    and the citation closes no cycle.

    Raises
    ------
    UnknownWork, InvalidCitation, InvalidShare, ConsentRequired, CycleError

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("m1", "model", {"lab": Fraction(1)})])
    >>> check_citation(G, "m1", "r1", Fraction(1, 2))
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.ConsentRequired: model m1 cannot train on r1: its owners have not consented to AI training
    """
    _check_one(G, work, source, share, _cited_total(G, work))


def _cited_total(G: nx.DiGraph, work: str) -> Fraction:
    return sum((data["share"] for _, _, data in G.out_edges(work, data=True)), Fraction(0))


def _check_one(G: nx.DiGraph, work: str, source: str, share: Fraction, total: Fraction) -> None:
    """The rules of :func:`check_citation`, given the work's current sum of shares."""
    _require(G, work)
    _require(G, source)
    if work == source:
        raise InvalidCitation(f"work {work} cannot cite itself", ids=(work,))
    _check_share_range(work, source, share)
    if G.has_edge(work, source):
        raise InvalidCitation(f"work {work} already cites {source}", ids=(work, source))
    if total + share > 1:
        raise InvalidCitation(
            f"work {work}: citing {source} with {share} would bring its shares to "
            f"{total + share}, above 1",
            ids=(work, source),
        )
    citing, cited = G.nodes[work], G.nodes[source]
    if citing["kind"] == "model":
        if cited["kind"] != "record":
            raise InvalidCitation(
                f"model {work} can only train on records, and {source} is a {cited['kind']}",
                ids=(work, source),
            )
        if not cited["consent_ai_training"]:
            raise ConsentRequired(
                f"model {work} cannot train on {source}: its owners have not consented "
                "to AI training",
                ids=(work, source),
            )
    elif not cited["consent_remix"]:
        raise ConsentRequired(
            f"work {work} cannot cite {source}: its owners have not consented to remixes",
            ids=(work, source),
        )
    # Only a work that something already cites can close a cycle; a new work
    # (the usual case, and every work of an import in topological order) cannot,
    # which keeps citing many sources linear instead of one search per source.
    if G.in_degree(work) and nx.has_path(G, source, work):
        path = nx.shortest_path(G, source, work)
        raise CycleError(
            f"citation {work} -> {source} would close a cycle: " + " -> ".join([work, *path]),
            ids=(work, source),
        )


def add_citation(G: nx.DiGraph, work: str, source: str, share: Fraction) -> None:
    """Check a citation with :func:`check_citation`, then add it to ``G``.

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("r2", "record", {"b": Fraction(1)})])
    >>> add_citation(G, "r2", "r1", Fraction(2, 5))
    >>> retained_share(G, "r2")
    Fraction(3, 5)
    """
    check_citation(G, work, source, share)
    G.add_edge(work, source, share=Fraction(share))


def add_citations(G: nx.DiGraph, work: str, sources: Mapping[str, Fraction]) -> None:
    """Check and add several citations from ``work``, in order; linear in their number.

    Each is checked as :func:`check_citation` would, against the shares added
    before it. On an error the citations before the offending one stay in ``G``
    (callers check on a scratch graph, as the services do).

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("r2", "record", {"b": Fraction(1)}),
    ...                  Work("p1", "production", {"c": Fraction(1)})])
    >>> add_citations(G, "p1", {"r1": Fraction(1, 4), "r2": Fraction(1, 2)})
    >>> retained_share(G, "p1")
    Fraction(1, 4)
    """
    total = _cited_total(G, work)
    for source, share in sources.items():
        _check_one(G, work, source, share, total)
        G.add_edge(work, source, share=Fraction(share))
        total += share


def retained_share(G: nx.DiGraph, work: str) -> Fraction:
    """The part of ``work``'s value it keeps for its payees: 1 minus its source shares.

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)})])
    >>> retained_share(G, "r1")
    Fraction(1, 1)
    """
    _require(G, work)
    cited = sum((data["share"] for _, _, data in G.out_edges(work, data=True)), Fraction(0))
    return 1 - cited


def ancestry(G: nx.DiGraph, work: str) -> set[str]:
    """The work and every work it transitively cites (where its value can flow).

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("r2", "record", {"b": Fraction(1)}, {"r1": Fraction(1, 2)})])
    >>> sorted(ancestry(G, "r2"))
    ['r1', 'r2']
    """
    _require(G, work)
    found: set[str] = nx.descendants(G, work)
    found.add(work)
    return found


def subgraph_for(G: nx.DiGraph, work: str) -> nx.DiGraph:
    """A copy of the ancestry subgraph of ``work``: all a settlement at ``work`` needs.

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("r2", "record", {"b": Fraction(1)})])
    >>> list(subgraph_for(G, "r2"))
    ['r2']
    """
    sub: nx.DiGraph = G.subgraph(ancestry(G, work)).copy()
    return sub


def works_of(G: nx.DiGraph) -> list[Work]:
    """The graph back as :class:`Work` values, sorted by id.

    Examples
    --------
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}, title="Shoreline")])
    >>> works_of(G)[0].title
    'Shoreline'
    """
    works = []
    for node in sorted(G):
        data = G.nodes[node]
        works.append(
            Work(
                id=node,
                kind=data["kind"],
                owners=dict(data["owners"]),
                sources={s: d["share"] for _, s, d in sorted(G.out_edges(node, data=True))},
                attribution_weight=data["attribution_weight"],
                consent_remix=data["consent_remix"],
                consent_ai_training=data["consent_ai_training"],
                title=data["title"],
                credits=data.get("credits", ()),
                credit_pool=data.get("credit_pool", Fraction(0)),
            )
        )
    return works
