"""Why was I paid: a creator's explanation of one revenue event, computed when asked for.

Allocations store only the micros and the exact entitlement. The explanation
is computed from the graph as it was when the event settled: the event
records its graph version, every citation and owner row records the version
it was written in, and citations are never rewritten in place, so the past
graph is the rows up to that version.

Only the part of that graph that matters is read: the works on a path from
the event's work to the creator's works (:func:`_between`: the event work's
ancestry when it is small, else walked up from the creator's works when they
have few citers, else down from the event's work), the citations among them,
plus the direct sources of the creator's works (their retained share). A
creator's works are those they own and those they hold a claimed credit on
(paid through the work's credit pool). The
exact engine then lists the strongest paths first and counts the rest
(:func:`hitrack.domain.credit.explain`), and the one renderer
(:func:`hitrack.domain.credit.render_lines`) writes the sentences.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Creator, Credit, RevenueEvent, Work, WorkOwner
from hitrack.domain import credit
from hitrack.domain import graph as graph_rules
from hitrack.domain.payees import UNCLAIMED_PREFIX
from hitrack.domain.payees import Credit as DomainCredit
from hitrack.domain.settlement import blended_shares
from hitrack.services.graph import graph_version, hide_titles

__all__ = [
    "small_ancestry",
    "explain_event",
    "explain_allocations",
    "explanation_entries",
    "explain_credit_earning",
]

_CHUNK = 5_000


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    listed = sorted(set(ids))
    for i in range(0, len(listed), _CHUNK):
        yield listed[i : i + _CHUNK]


UP_WALK_LIMIT = 20_000
"""Citers of the creator's works (transitively) read before walking down from the event instead."""
DOWN_PROBE_LIMIT = 2_000
"""Ancestors of the event's work read first: a small ancestry is the whole walk."""


def _down(work_id: int, version: int) -> Any:
    down = select(Work.id.label("id")).where(Work.id == work_id).cte("down", recursive=True)
    return down.union(
        select(Citation.source_id)
        .join(down, Citation.work_id == down.c.id)
        .where(Citation.graph_version <= version)
    )


def _reaching_within(
    db: Session, work_id: int, nodes: set[int], targets: set[int], version: int
) -> set[int]:
    """The works of ``nodes`` on a path from ``work_id`` to ``targets`` over citations among them."""
    below: dict[int, list[int]] = {}
    above: dict[int, list[int]] = {}
    for chunk in _chunks(nodes):
        for citer, source in db.execute(
            select(Citation.work_id, Citation.source_id).where(
                Citation.work_id.in_(chunk), Citation.graph_version <= version
            )
        ):
            if source in nodes:
                below.setdefault(citer, []).append(source)
                above.setdefault(source, []).append(citer)

    def walk(start: Iterable[int], edges: dict[int, list[int]]) -> set[int]:
        reached = set(start)
        todo = list(reached)
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        return reached

    return walk([work_id], below) & walk(targets & nodes, above)


def small_ancestry(db: Session, event: RevenueEvent) -> bool:
    """Whether the event's work has at most :data:`DOWN_PROBE_LIMIT` ancestors (one bounded
    query): its explanations are then quick enough to give inside a response."""
    version = event.graph_version if event.graph_version is not None else graph_version(db)
    probe = select(_down(event.work_id, version).c.id).limit(DOWN_PROBE_LIMIT + 1)
    return len(db.scalars(probe).all()) <= DOWN_PROBE_LIMIT


def _between(db: Session, work_id: int, owned: Select[Any], version: int) -> set[int]:
    """The works on a path from ``work_id`` down to a work in ``owned`` (both ends included).

    ``owned`` selects the ids of the works the payee is paid from (the works a
    creator owns or holds a claimed credit on; a credit's one work). Either
    side can be huge: a model's ancestry is its whole manifest, a popular
    record has a hundred thousand citers. So the walk first reads the event
    work's ancestry up to :data:`DOWN_PROBE_LIMIT` works (a recursive query
    PostgreSQL stops at its limit): a small one is all the walk needs. Else it
    goes up from the owned works (usually a few citers) and keeps only the
    edges inside that set, unless it reaches :data:`UP_WALK_LIMIT` works; then
    it goes down from ``work_id`` and back up inside its ancestry, one
    recursive query each way.
    """
    down = _down(work_id, version)
    probe = select(down.c.id).limit(DOWN_PROBE_LIMIT + 1)
    ancestry = set(db.scalars(probe))
    if len(ancestry) <= DOWN_PROBE_LIMIT:
        mine = set(db.scalars(select(Work.id).where(Work.id.in_(owned), Work.id.in_(probe))))
        if not mine:
            return set()
        return _reaching_within(db, work_id, ancestry, mine, version)
    up = select(Work.id.label("id")).where(Work.id.in_(owned)).cte("up", recursive=True)
    up = up.union(
        select(Citation.work_id)
        .join(up, Citation.source_id == up.c.id)
        .where(Citation.graph_version <= version)
    )
    citers = set(db.scalars(select(up.c.id).limit(UP_WALK_LIMIT + 1)))
    if len(citers) <= UP_WALK_LIMIT:
        if work_id not in citers:
            return set()
        below: dict[int, list[int]] = {}
        for chunk in _chunks(citers):
            for citer, source in db.execute(
                select(Citation.work_id, Citation.source_id).where(
                    Citation.source_id.in_(chunk), Citation.graph_version <= version
                )
            ):
                if citer in citers:
                    below.setdefault(citer, []).append(source)
        reached, todo = {work_id}, [work_id]
        while todo:
            for source in below.get(todo.pop(), ()):
                if source not in reached:
                    reached.add(source)
                    todo.append(source)
        return reached
    back = select(down.c.id.label("id")).where(down.c.id.in_(owned)).cte("back", recursive=True)
    back = back.union(
        select(Citation.work_id)
        .join(back, Citation.source_id == back.c.id)
        .where(Citation.graph_version <= version, Citation.work_id.in_(select(down.c.id)))
    )
    return set(db.scalars(select(back.c.id)))


def _credits_at(db: Session, nodes: set[int], at: datetime) -> dict[int, list[DomainCredit]]:
    """The credits each work had at ``at``, as the engines name their payees.

    Credits are not versioned like citations: a credit on the work at ``at``
    (added before, not yet taken off) is the credit the event paid. Its payee
    is named as it is now (a claimed credit by its creator's handle), so the
    person who claimed an escrow sees the money it held explained as theirs.
    """
    found: dict[int, list[DomainCredit]] = {}
    for chunk in _chunks(nodes):
        for work_id, public_id, status, role, num, den, handle in db.execute(
            select(
                Credit.work_id,
                Credit.public_id,
                Credit.status,
                Credit.role,
                Credit.weight_num,
                Credit.weight_den,
                Creator.handle,
            )
            .outerjoin(Creator, Creator.id == Credit.creator_id)
            .where(
                Credit.work_id.in_(chunk),
                Credit.created_at <= at,
                (Credit.removed_at.is_(None)) | (Credit.removed_at > at),
            )
            .order_by(Credit.work_id, Credit.position, Credit.id)
        ):
            payee = (
                handle
                if status == "claimed" and handle is not None
                else f"{UNCLAIMED_PREFIX}{public_id}"
            )
            found.setdefault(work_id, []).append(DomainCredit(payee, role, Fraction(num, den)))
    return found


def _graph_at(
    db: Session, nodes: set[int], version: int, at: datetime
) -> tuple[Any, dict[int, str], dict[str, str]]:
    """The networkx graph on ``nodes`` as of ``version``, their public ids, owners' names.

    Each work carries its credits at ``at`` and its credit pool.
    """
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
                Work.credit_pool_num,
                Work.credit_pool_den,
            ).where(Work.id.in_(chunk))
        ).all()
    public = {w[0]: w[1] for w in works}
    sources: dict[int, dict[str, Fraction]] = {w[0]: {} for w in works}
    owners: dict[int, dict[str, Fraction]] = {w[0]: {} for w in works}
    names: dict[str, str] = {}
    # Only the citations among the nodes: a model among them cites its whole
    # manifest, and the unique (work_id, source_id) index finds the few pairs.
    for chunk, among in itertools.product(_chunks(nodes), _chunks(nodes)):
        for work_id, source_id, num, den in db.execute(
            select(
                Citation.work_id, Citation.source_id, Citation.share_num, Citation.share_den
            ).where(
                Citation.work_id.in_(chunk),
                Citation.source_id.in_(among),
                Citation.graph_version <= version,
            )
        ):
            if source_id in public:
                sources[work_id][public[source_id]] = Fraction(num, den)
    for chunk in _chunks(nodes):
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
    credits = _credits_at(db, nodes, at)
    G = graph_rules.build_graph(
        graph_rules.Work(
            id=w[1],
            kind=w[2],
            title=w[3],
            owners=owners[w[0]],
            sources=sources[w[0]],
            attribution_weight=Fraction(w[4], w[5]),
            credits=tuple(credits.get(w[0], ())),
            # A pool without its credits (all taken off since) pays nobody: the
            # owners kept it then as far as this explanation can tell.
            credit_pool=Fraction(w[6], w[7]) if credits.get(w[0]) else Fraction(0),
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


def _paid_at(event: RevenueEvent) -> datetime:
    """When the event's money met the graph (its funding); now for one not funded yet."""
    at = event.funded_at or datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def explanation_entries(
    db: Session, event: RevenueEvent, creator: Creator, *, kind: str | None = None
) -> list[dict[str, Any]]:
    """``creator``'s explanation of ``event`` in the explanation schema (empty: not paid by it).

    A settled event is explained on the graph it settled on; a reported or
    funded one (expected, pending) on the graph as it is. The creator's works
    are those they own and those they hold a claimed credit on.

    ``kind``: only the ``earning`` paths, or only the ``recoup``.
    """
    if event.state == "rejected":
        return []
    version = event.graph_version if event.graph_version is not None else graph_version(db)
    owned = union(
        select(WorkOwner.work_id).where(
            WorkOwner.creator_id == creator.id, WorkOwner.graph_version <= version
        ),
        select(Credit.work_id).where(Credit.creator_id == creator.id, Credit.status == "claimed"),
    )
    return _entries(db, event, creator.handle, select(owned.subquery().c[0]), version, kind=kind)


def _entries(
    db: Session,
    event: RevenueEvent,
    payee: str,
    owned: Select[Any],
    version: int,
    *,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """``payee``'s explanation of ``event``, where ``owned`` selects the works it is paid from."""
    from hitrack.services.revenue.settling import domain_event

    between = _between(db, event.work_id, owned, version)
    if not between:
        return []
    mine = set(db.scalars(owned)) & between
    direct: set[int] = set()
    for chunk in _chunks(mine):
        direct |= set(
            db.scalars(
                select(Citation.source_id).where(
                    Citation.work_id.in_(chunk), Citation.graph_version <= version
                )
            )
        )
    G, _public, names = _graph_at(db, between | direct, version, _paid_at(event))
    entries: list[dict[str, Any]] = []
    first_hop = _first_hop(db, event, G, version)
    if kind != "recoup":
        for explanation in credit.explain(G, domain_event(event), payee, first_hop=first_hop):
            entries.append(credit.explanation_entry(G, explanation, names))
    recouped = event.recouped if event.state == "settled" else min(event.costs, event.amount)
    ownership = G.nodes[event.work.public_id]["owners"].get(payee, Fraction(0))
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


def explain_credit_earning(
    db: Session, event: RevenueEvent, credit_row: Credit, viewer: Creator | None
) -> list[str]:
    """Why ``credit_row`` was paid by ``event``: the lines of its part only.

    For an unclaimed credit that is its escrow's part; for a claimed one, the
    part its creator was paid as that credit (the money its escrow held is
    this too). Works ``viewer`` may not see read as "a private work".
    """
    version = event.graph_version if event.graph_version is not None else graph_version(db)
    payee = (
        credit_row.creator.handle
        if credit_row.status == "claimed" and credit_row.creator is not None
        else f"{UNCLAIMED_PREFIX}{credit_row.public_id}"
    )
    entries = [
        entry
        for entry in _entries(
            db,
            event,
            payee,
            select(Work.id).where(Work.id == credit_row.work_id),
            version,
            kind="earning",
        )
        if entry.get("work") == credit_row.work.public_id
    ]
    shown: list[dict[str, Any]] = hide_titles(db, viewer, entries)
    return credit.render_lines(shown, event.currency)


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
