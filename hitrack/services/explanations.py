"""Why was I paid: a creator's explanation of one revenue event, computed when asked for.

Allocations store only the micros and the exact entitlement. The explanation
is computed from the graph as it was when the event settled: the event
records its graph version, every citation and owner row records the version
it was written in, and citations are never rewritten in place, so the past
graph is the rows up to that version.

Only the part of that graph that matters is read: the works on a path from
the event's work to the creator's works (the creator's works' citers, one
recursive query, walked down from the event's work: :func:`_between`),
plus the direct sources of the creator's works (their retained share). The
exact engine then lists the strongest paths first and counts the rest
(:func:`hitrack.domain.credit.explain`), and the one renderer
(:func:`hitrack.domain.credit.render_lines`) writes the sentences.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Creator, RevenueEvent, Work, WorkOwner
from hitrack.domain import credit
from hitrack.domain import graph as graph_rules
from hitrack.domain.settlement import blended_shares
from hitrack.services.graph import graph_version, hide_titles

__all__ = ["explain_event", "explain_allocations", "explanation_entries"]

_CHUNK = 5_000


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    listed = sorted(set(ids))
    for i in range(0, len(listed), _CHUNK):
        yield listed[i : i + _CHUNK]


def _walk(db: Session, starts: list[int], version: int, *, up: bool) -> set[int]:
    """Works reached from ``starts`` along citations of at most ``version`` (``up``: citers)."""
    if not starts:
        return set()
    walk = (
        select(Work.id.label("id"))
        .where(Work.id.in_(starts))
        .cte("up" if up else "down", recursive=True)
    )
    nxt = (
        select(Citation.work_id).join(walk, Citation.source_id == walk.c.id)
        if up
        else select(Citation.source_id).join(walk, Citation.work_id == walk.c.id)
    )
    walk = walk.union(nxt.where(Citation.graph_version <= version))
    return set(db.scalars(select(walk.c.id)))


def _between(db: Session, start: int, own: set[int], version: int) -> set[int]:
    """The works on a path from ``start`` down to one of ``own`` (both ends included).

    Every work on such a path is a citer (transitively) of one of ``own``, so
    the walk goes up from the creator's works first (usually a few works),
    then down from ``start`` through those only: the event work's whole
    ancestry, which for a model is its whole manifest, is never read.
    """
    up = _walk(db, sorted(own), version, up=True)
    if start not in up:
        return set()
    below: dict[int, list[int]] = {}
    for citers in _chunks(up):
        for sources in _chunks(up):  # both ends within ``up``: never a whole manifest
            for work_id, source_id in db.execute(
                select(Citation.work_id, Citation.source_id).where(
                    Citation.work_id.in_(citers),
                    Citation.source_id.in_(sources),
                    Citation.graph_version <= version,
                )
            ):
                below.setdefault(work_id, []).append(source_id)
    reached = {start}
    todo = [start]
    while todo:
        for source in below.get(todo.pop(), ()):
            if source not in reached:
                reached.add(source)
                todo.append(source)
    return reached


def _graph_at(
    db: Session, nodes: set[int], version: int
) -> tuple[Any, dict[int, str], dict[str, str]]:
    """The networkx graph on ``nodes`` as of ``version``, their public ids, owners' names."""
    works: list[Any] = []
    for chunk in _chunks(nodes):
        works += db.execute(
            select(
                Work.id,
                Work.public_id,
                Work.kind,
                Work.title,
                Work.attribution_weight_num,
                Work.attribution_weight_den,
            ).where(Work.id.in_(chunk))
        ).all()
    public = {w[0]: w[1] for w in works}
    sources: dict[int, dict[str, Fraction]] = {w[0]: {} for w in works}
    owners: dict[int, dict[str, Fraction]] = {w[0]: {} for w in works}
    names: dict[str, str] = {}
    for chunk in _chunks(nodes):
        for work_id, source_id, num, den in db.execute(
            select(
                Citation.work_id, Citation.source_id, Citation.share_num, Citation.share_den
            ).where(Citation.work_id.in_(chunk), Citation.graph_version <= version)
        ):
            if source_id in public:
                sources[work_id][public[source_id]] = Fraction(num, den)
        for work_id, handle, name, num, den in db.execute(
            select(
                WorkOwner.work_id,
                Creator.handle,
                Creator.display_name,
                WorkOwner.fraction_num,
                WorkOwner.fraction_den,
            )
            .join(Creator, Creator.id == WorkOwner.creator_id)
            .where(WorkOwner.work_id.in_(chunk), WorkOwner.graph_version <= version)
        ):
            owners[work_id][handle] = Fraction(num, den)
            names[handle] = name
    G = graph_rules.build_graph(
        graph_rules.Work(
            id=w[1],
            kind=w[2],
            title=w[3],
            owners=owners[w[0]],
            sources=sources[w[0]],
            attribution_weight=Fraction(w[4], w[5]),
        )
        for w in works
    )
    return G, public, names


def _first_hop(db: Session, event: RevenueEvent, G: Any, version: int) -> dict[str, Fraction]:
    """The event work's shares for this event, over its sources in ``G``."""
    work = event.work
    shares = {
        source: G.edges[work.public_id, source]["share"] for source in G.successors(work.public_id)
    }
    weight = work.attribution_weight
    if event.attribution is None or weight == 0:
        return shares
    # The blend needs the sum of every manifest share, not only those in G.
    manifest = {
        source: Fraction(num, den)
        for source, num, den in db.execute(
            select(Work.public_id, Citation.share_num, Citation.share_den)
            .join(Work, Work.id == Citation.source_id)
            .where(Citation.work_id == work.id, Citation.graph_version <= version)
        )
    }
    scores = {k: Fraction(v) for k, v in event.attribution.items()}
    blended = blended_shares(manifest, weight, scores)
    return {source: blended[source] for source in shares}


def explanation_entries(
    db: Session, event: RevenueEvent, creator: Creator, *, kind: str | None = None
) -> list[dict[str, Any]]:
    """``creator``'s explanation of ``event`` in the explanation schema (empty: not paid by it).

    A settled event is explained on the graph it settled on; a reported or
    funded one (expected, pending) on the graph as it is.

    ``kind``: only the ``earning`` paths, or only the ``recoup``.
    """
    from hitrack.services.revenue.settling import domain_event

    if event.state == "rejected":
        return []
    version = event.graph_version if event.graph_version is not None else graph_version(db)
    own = set(
        db.scalars(
            select(WorkOwner.work_id).where(
                WorkOwner.creator_id == creator.id, WorkOwner.graph_version <= version
            )
        )
    )
    if not own:
        return []
    between = _between(db, event.work_id, own, version)
    if not between:
        return []
    mine = own & between
    direct: set[int] = set()
    for chunk in _chunks(mine):
        direct |= set(
            db.scalars(
                select(Citation.source_id).where(
                    Citation.work_id.in_(chunk), Citation.graph_version <= version
                )
            )
        )
    G, _public, names = _graph_at(db, between | direct, version)
    entries: list[dict[str, Any]] = []
    first_hop = _first_hop(db, event, G, version)
    if kind != "recoup":
        for explanation in credit.explain(
            G, domain_event(event), creator.handle, first_hop=first_hop
        ):
            entries.append(credit.explanation_entry(G, explanation, names))
    recouped = event.recouped if event.state == "settled" else min(event.costs, event.amount)
    ownership = G.nodes[event.work.public_id]["owners"].get(creator.handle, Fraction(0))
    if kind != "earning" and recouped and ownership:
        entries.append(
            credit.recoup_entry(
                G,
                event.work.public_id,
                costs=event.costs,
                recouped=recouped,
                ownership=ownership,
                names=names,
            )
        )
    return entries


def explain_event(
    db: Session, event: RevenueEvent, creator: Creator, *, kind: str | None = None
) -> list[str]:
    """Why ``creator`` was paid by ``event``, as sentences (strongest paths first).

    Works on the way that ``creator`` may not see (a private record, a draft)
    read as "a private work".
    """
    entries = explanation_entries(db, event, creator, kind=kind)
    return credit.render_lines(hide_titles(db, creator, list(entries)), event.currency)


def explain_allocations(
    db: Session, event: RevenueEvent, creators: Iterable[Creator]
) -> dict[int, list[str]]:
    """:func:`explain_event` for several creators of one event, by creator id."""
    return {c.id: explain_event(db, event, c) for c in creators}
