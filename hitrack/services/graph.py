"""The contribution graph as stored: load the part of it a question needs.

Only the ancestry (or the descendants) of the works in question is read, with
one recursive query, and handed to :mod:`hitrack.domain.graph` — where every
graph rule lives. Citations are written here, under a lock that serialises
graph writes so two concurrent citations cannot together close a cycle or push
a work's shares above 1.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any, TypeVar

import networkx as nx
from sqlalchemy import (
    ColumnElement,
    Exists,
    and_,
    event,
    exists,
    func,
    inspect,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, object_session, selectinload

from hitrack.db.models import (
    Citation,
    Creator,
    Credit,
    GraphState,
    ProposalRevision,
    Work,
    WorkOwner,
)
from hitrack.domain import graph as graph_rules
from hitrack.domain import interchange
from hitrack.domain.errors import (
    HitrackError,
    InvalidCitation,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.payees import UNCLAIMED_PREFIX
from hitrack.domain.payees import Credit as DomainCredit
from hitrack.domain.shares import parse_share
from hitrack.services.unit_of_work import unit_of_work

DEFAULT_CURRENCY = "USD"
# What a work the viewer may not see is called where a visible work cites it.
PRIVATE_TITLE = "a private work"
T = TypeVar("T")
GRAPH_LOCK_ID = 0x4_1712_ACC  # any constant: the advisory lock that serialises graph writers

__all__ = [
    "graph_version",
    "graph_stamp",
    "bump_graph_version",
    "ancestry_ids",
    "descendant_ids",
    "domain_work",
    "credit_payee",
    "load_graph",
    "lock_graph",
    "get_work",
    "PRIVATE_TITLE",
    "visible_work",
    "can_see",
    "is_unpublished",
    "visible_condition",
    "visible_ids",
    "shown_title",
    "hide_titles",
    "cite",
    "check_new_citations",
    "as_new_work",
    "export_ancestry",
    "export_all",
]


# --- the graph version ---------------------------------------------------------------
#
# Every write to what settlement reads (works, owners, citations, a model's
# manifest and attribution weight) bumps one counter in the same transaction,
# and stamps the rows it writes with the new version. A stored compact graph
# is valid for exactly one version (hitrack.services.compact_graph), and the
# graph of any past version is the rows stamped up to it (citations are never
# rewritten in place).

_BUMPED = "hitrack.graph_version"
_SETTLED_ATTRIBUTES = (
    "kind",
    "attribution_weight_num",
    "attribution_weight_den",
    "title",
    "credit_pool_num",
    "credit_pool_den",
)


def graph_version(db: Session) -> int:
    """The graph version as this transaction sees it."""
    return graph_stamp(db)[0]


def graph_stamp(db: Session) -> tuple[int, str]:
    """The graph version and its token (drawn anew at every bump)."""
    row = db.execute(select(GraphState.version, GraphState.token).where(GraphState.id == 1)).first()
    if row is None:  # a database created without the migrations' first row
        db.add(GraphState(id=1, version=0, token=""))
        db.flush()
        return 0, ""
    return int(row[0]), str(row[1])


def bump_graph_version(db: Session) -> int:
    """The new graph version of this transaction (bumped once per transaction).

    Bulk writers that bypass the ORM call it and stamp their rows with it;
    ORM writes are stamped by the flush hook below.
    """
    bumped = db.info.get(_BUMPED)
    if bumped is not None:
        return int(bumped)
    version = graph_version(db) + 1
    db.execute(
        update(GraphState)
        .where(GraphState.id == 1)
        .values(version=version, token=secrets.token_hex(16))
        .execution_options(synchronize_session=False)
    )
    db.info[_BUMPED] = version
    return version


def _touches_graph(obj: object) -> bool:
    if isinstance(obj, Citation | WorkOwner | Credit):  # a credit changes who is paid
        return True
    if isinstance(obj, Work):
        state = inspect(obj)
        return state.pending or any(
            state.attrs[name].history.has_changes() for name in _SETTLED_ATTRIBUTES
        )
    return False


@event.listens_for(Session, "before_flush")
def _stamp_graph_writes(session: Session, _context: Any, _instances: Any) -> None:
    new = [obj for obj in session.new if _touches_graph(obj)]
    changed = [obj for obj in session.dirty if _touches_graph(obj)]
    gone = [obj for obj in session.deleted if isinstance(obj, Citation | WorkOwner | Work | Credit)]
    if not (new or changed or gone):
        return
    version = bump_graph_version(session)
    for obj in [*new, *changed]:
        if isinstance(obj, Citation | WorkOwner):
            obj.graph_version = version


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_bump(session: Session) -> None:
    session.info.pop(_BUMPED, None)


def lock_graph(db: Session) -> None:
    """Serialise writers of the graph for the rest of this transaction.

    PostgreSQL gets a transaction-scoped advisory lock; SQLite already takes the
    database write lock at BEGIN (see ``hitrack.db.session``).
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(GRAPH_LOCK_ID)))


def ancestry_ids(db: Session, work_ids: Iterable[int]) -> set[int]:
    """The works and everything they transitively cite, in one recursive query."""
    ids = list(work_ids)
    if not ids:
        return set()
    walk = select(Work.id.label("id")).where(Work.id.in_(ids)).cte("ancestry", recursive=True)
    walk = walk.union(select(Citation.source_id).join(walk, Citation.work_id == walk.c.id))
    return set(db.scalars(select(walk.c.id)))


def descendant_ids(db: Session, work_ids: Iterable[int]) -> set[int]:
    """The works and everything that transitively cites them."""
    ids = list(work_ids)
    if not ids:
        return set()
    walk = select(Work.id.label("id")).where(Work.id.in_(ids)).cte("descendants", recursive=True)
    walk = walk.union(select(Citation.work_id).join(walk, Citation.source_id == walk.c.id))
    return set(db.scalars(select(walk.c.id)))


def _load_works(db: Session, ids: set[int]) -> list[Work]:
    if not ids:
        return []
    return list(
        db.scalars(
            select(Work)
            .where(Work.id.in_(ids))
            # Graph rules must see the rows as they are now, not as an
            # earlier query in this session cached them.
            .execution_options(populate_existing=True)
            .options(
                selectinload(Work.owners).selectinload(WorkOwner.creator),
                selectinload(Work.sources).selectinload(Citation.source),
                selectinload(Work.credits).selectinload(Credit.creator),
            )
        )
    )


def credit_payee(credit: Credit) -> str:
    """The engines' payee of a stored credit: its creator's handle once claimed, else
    ``credit:<public id>`` (its escrow)."""
    if credit.status == "claimed" and credit.creator is not None:
        return credit.creator.handle
    return f"{UNCLAIMED_PREFIX}{credit.public_id}"


def domain_work(work: Work, *, within: set[int] | None = None) -> graph_rules.Work:
    """The pure-domain view of a stored work (sources restricted to ``within``)."""
    return graph_rules.Work(
        id=work.public_id,
        kind=work.kind,
        title=work.title,
        owners={o.creator.handle: o.fraction for o in work.owners},
        sources={
            c.source.public_id: c.share
            for c in work.sources
            if within is None or c.source_id in within
        },
        attribution_weight=work.attribution_weight,
        consent_remix=work.consent_remix,
        consent_ai_training=work.consent_ai_training,
        credits=tuple(
            DomainCredit(credit_payee(c), c.role, c.weight)
            for c in work.credits
            if c.removed_at is None
        ),
        credit_pool=work.credit_pool,
    )


def load_graph(db: Session, ids: set[int], *, restrict_edges: bool = True) -> nx.DiGraph:
    """Build the networkx graph over exactly the works ``ids``."""
    works = _load_works(db, ids)
    return graph_rules.build_graph(
        domain_work(w, within=ids if restrict_edges else None) for w in works
    )


def get_work(db: Session, public_id: str, *, lock: bool = False) -> Work:
    stmt = select(Work).where(Work.public_id == public_id)
    if lock:
        stmt = stmt.with_for_update()
    work = db.scalar(stmt)
    if work is None:
        raise NotFound(f"work {public_id} not found", ids=(public_id,))
    return work


def is_unpublished(work: Work) -> bool:
    """A production whose split was never proposed: a draft, or one cancelled as a draft."""
    if work.kind != "production" or work.status not in ("draft", "cancelled"):
        return False
    if work.status == "draft":
        return True
    session = object_session(work)
    assert session is not None, "a stored work"
    return not session.scalar(select(_has_revision(work.id)))


def _has_revision(work_id: object) -> Exists:
    return exists().where(ProposalRevision.production_id == work_id)


def can_see(actor: Creator | None, work: Work) -> bool:
    """Whether ``actor`` may see ``work`` at all (:func:`visible_condition` is the same rule in SQL).

    - Admins see everything; the owners of a work always see it.
    - A private work is seen by its owners only.
    - An unpublished production (:func:`is_unpublished`) and its split are seen
      by its producer and the contributors: the owners of the works it cites.
    - Everything else is public.
    """
    if actor is not None and (actor.is_admin or work.is_owned_by(actor.id)):
        return True
    if work.visibility != "public":
        return False
    if is_unpublished(work):
        return actor is not None and any(c.source.is_owned_by(actor.id) for c in work.sources)
    return True


def visible_condition(actor: Creator | None) -> ColumnElement[bool]:
    """:func:`can_see` as a condition on ``Work``, for queries that list works."""
    if actor is not None and actor.is_admin:
        return true()
    unpublished = and_(
        Work.kind == "production",
        or_(
            Work.status == "draft",
            and_(Work.status == "cancelled", ~_has_revision(Work.id)),
        ),
    )
    if actor is None:
        return and_(Work.visibility == "public", ~unpublished)
    owned = Work.id.in_(select(WorkOwner.work_id).where(WorkOwner.creator_id == actor.id))
    contributed = (
        exists()
        .where(Citation.work_id == Work.id)
        .where(WorkOwner.work_id == Citation.source_id, WorkOwner.creator_id == actor.id)
    )
    return or_(owned, and_(Work.visibility == "public", or_(~unpublished, contributed)))


def visible_ids(db: Session, actor: Creator | None, ids: Iterable[int]) -> set[int]:
    """Which of the works ``ids`` ``actor`` may see, in one query."""
    wanted = set(ids)
    if not wanted:
        return set()
    return set(db.scalars(select(Work.id).where(Work.id.in_(wanted), visible_condition(actor))))


def hide_titles(db: Session, actor: Creator | None, documents: list[T]) -> list[T]:
    """Copies of JSON-like ``documents`` in which every work ``actor`` may not see is untitled.

    A work appears in a document as an object with ``"work"`` (its id) and
    ``"title"``, at any depth, as stored explanations of earnings hold them:
    the title of such a work becomes "a private work". One query for all.
    """
    ids: set[str] = set()
    stack: list[object] = list(documents)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("work"), str) and "title" in item:
                ids.add(item["work"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if not ids:
        return list(documents)
    shown = set(
        db.scalars(select(Work.public_id).where(Work.public_id.in_(ids), visible_condition(actor)))
    )
    hidden = ids - shown

    def rewrite(item: object) -> object:
        if isinstance(item, dict):
            copy = {key: rewrite(value) for key, value in item.items()}
            if copy.get("work") in hidden and "title" in copy:
                copy["title"] = PRIVATE_TITLE
            return copy
        if isinstance(item, list):
            return [rewrite(value) for value in item]
        return item

    return [rewrite(document) for document in documents]  # type: ignore[misc]


def shown_title(actor: Creator | None, work: Work) -> str:
    """The work's title, or "a private work" when ``actor`` may not see it."""
    return work.title if can_see(actor, work) else PRIVATE_TITLE


def visible_work(db: Session, actor: Creator | None, public_id: object) -> Work:
    """The work if ``actor`` may see it; otherwise NotFound (never reveal private works)."""
    if not isinstance(public_id, str):
        raise NotFound("work id must be a string")
    work = get_work(db, public_id)
    if not can_see(actor, work):
        raise NotFound(f"work {public_id} not found", ids=(public_id,))
    return work


def check_new_citations(
    db: Session,
    actor: Creator,
    citing: graph_rules.Work,
    sources: Mapping[str, object],
    *,
    existing: Work | None = None,
) -> list[tuple[Work, Fraction]]:
    """Validate citations from ``citing`` (new or ``existing``) to ``sources``.

    Runs every graph rule through :func:`hitrack.domain.graph.check_citation` on
    the ancestry that matters, and returns the stored source works with their
    exact shares. Nothing is written.
    """
    resolved: list[tuple[Work, Fraction]] = []
    for source_id, raw_share in sources.items():
        source = visible_work(db, actor, source_id)
        resolved.append((source, parse_share(raw_share, what=f"share of {source_id}")))  # type: ignore[arg-type]
    roots = {s.id for s, _ in resolved}
    if existing is not None:
        roots.add(existing.id)
    G = load_graph(db, ancestry_ids(db, roots))
    if existing is None:
        if citing.id in G:
            raise InvalidCitation(f"work {citing.id} already exists", ids=(citing.id,))
        try:
            # build_graph checks the new work's own fields (owners, kind) the same way.
            G.add_nodes_from(
                graph_rules.build_graph([replace(citing, sources={})]).nodes(data=True)
            )
            graph_rules.add_citations(G, citing.id, {s.public_id: share for s, share in resolved})
        except HitrackError as error:
            raise as_new_work(error, citing.id, citing.kind) from None
        return resolved
    graph_rules.add_citations(G, citing.id, {s.public_id: share for s, share in resolved})
    return resolved


def as_new_work(error: HitrackError, work_id: str, kind: str) -> HitrackError:
    """``error`` naming the work being created as "your new <kind>", not by its id.

    The id is drawn before the rules run; when they refuse, that work is never
    stored, so a message naming it would point at nothing.
    """
    message = error.message.replace(f"work {work_id}", f"your new {kind}").replace(
        work_id, f"your new {kind}"
    )
    renamed = type(error)(message, ids=tuple(i for i in error.ids if i != work_id))
    return renamed


def cite(
    db: Session,
    actor: Creator,
    work_id: object,
    source_id: object,
    share: object,
    *,
    credit_role: str | None = None,
) -> Citation:
    """``actor`` makes their work cite ``source`` with ``share``; every graph rule applies."""
    lock_graph(db)
    with unit_of_work(db):
        work = visible_work(db, actor, work_id)
        if not work.is_owned_by(actor.id):
            raise PermissionDenied(
                f"only the owners of {work.public_id} may change its sources", ids=(work.public_id,)
            )
        if work.kind != "record":
            raise InvalidCitation(
                f"{work.public_id} is a {work.kind}: its sources are set by its "
                + ("payment proposal" if work.kind == "production" else "training manifest"),
                ids=(work.public_id,),
            )
        if not isinstance(source_id, str):
            raise NotFound("source must be a work id (string)")
        [(source, exact)] = check_new_citations(
            db, actor, domain_work(work), {source_id: share}, existing=work
        )
        citation = Citation(
            source=source, share=exact, credit_role=credit_role, created_by_id=actor.id
        )
        work.sources.append(citation)
        from hitrack.services.follows import citations_happened  # follows reads the graph

        citations_happened(db, work, [source.id])
    return citation


def _export(
    works: list[Work], hidden: frozenset[int] | set[int] = frozenset()
) -> dict[str, object]:
    ids = {w.id for w in works}
    domain_works = []
    for w in sorted(works, key=lambda w: w.public_id):
        dw = domain_work(w, within=ids)
        if w.id in hidden:
            dw = replace(dw, title="")
        domain_works.append(dw)
    return interchange.dump_document(DEFAULT_CURRENCY, domain_works)


def export_ancestry(db: Session, actor: Creator | None, work: Work) -> dict[str, object]:
    """The work's ancestry in the interchange format; titles of works hidden from ``actor`` are left out."""
    works = _load_works(db, ancestry_ids(db, [work.id]))
    shown = visible_ids(db, actor, (w.id for w in works))
    return _export(works, {w.id for w in works if w.id not in shown})


def export_all(db: Session) -> dict[str, object]:
    """The whole graph in the interchange format (for admins and backups)."""
    works = list(
        db.scalars(
            select(Work).options(
                selectinload(Work.owners).selectinload(WorkOwner.creator),
                selectinload(Work.sources).selectinload(Citation.source),
                selectinload(Work.credits).selectinload(Credit.creator),
            )
        )
    )
    document = _export(works)
    # An unclaimed credit is named in the document too, so an import restores its name.
    names = {
        f"{UNCLAIMED_PREFIX}{c.public_id}": c.name
        for w in works
        for c in w.credits
        if c.removed_at is None
    }
    for item in document["works"]:  # type: ignore[attr-defined]
        for credit in item.get("credits", ()):
            if credit["payee"] in names:
                credit["name"] = names[credit["payee"]]
    return document
