"""The settlement graph: the fast engine's compact form of the stored graph, kept in step with it.

The contribution graph lives in the database; for settlement it also lives
as one :class:`~hitrack.domain.fast.CompactGraph` per graph version
(:func:`hitrack.services.graph.graph_version`, bumped by every graph write in
the same transaction). The compact graph is

* **built** from column queries (never ORM objects, never one parameter per
  work) by :func:`rebuild`, run as the ``compact_graph_rebuild`` job, inside one
  snapshot of the database, and stored (``compact_graphs``, the engine's own
  ``.npz`` form) under the version it was built at;
* **loaded once per process** (:func:`current`) and reused while the
  database's version matches; a graph of another version is *stale* and is
  never used.

:func:`settlement_graph` is what settlement asks for: the current compact
graph, or — when it is stale — the event's own ancestry when that is small
(read under the shared graph lock, compacted, and a rebuild queued), or a
rebuild done now when it is not.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, CompactGraphRow, Creator, Credit, Work, WorkOwner
from hitrack.domain.fast import CompactGraph
from hitrack.domain.graph import KINDS
from hitrack.domain.payees import UNCLAIMED_PREFIX
from hitrack.jobs.base import JobQueue
from hitrack.services import jobs
from hitrack.services.graph import GRAPH_LOCK_ID, ancestry_ids, graph_stamp, load_graph
from hitrack.services.unit_of_work import read_only, unit_of_work

__all__ = [
    "KIND",
    "SMALL_ANCESTRY",
    "SettlementGraph",
    "build",
    "rebuild",
    "current",
    "settlement_graph",
    "whole_graph",
    "submit_rebuild",
    "forget",
]

KIND = "compact_graph_rebuild"
SMALL_ANCESTRY = 5_000
"""A stale compact graph is bypassed for an ancestry up to this size (read from the
database instead); a larger one waits for the graph to be rebuilt."""

_cache: dict[str, tuple[tuple[int, str], CompactGraph]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class SettlementGraph:
    """A compact graph to settle with, and the graph version it is exactly."""

    version: int
    graph: CompactGraph
    whole: bool  # the whole graph (False: one event's ancestry only)


def _key(db: Session) -> str:
    bind = db.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return engine.url.render_as_string(hide_password=True)


def forget() -> None:
    """Drop every compact graph this process holds (tests, and after a restore)."""
    with _cache_lock:
        _cache.clear()


# --- building -----------------------------------------------------------------------


def build(db: Session) -> tuple[tuple[int, str], CompactGraph]:
    """The whole stored graph as a compact graph, with the version it is (no writes).

    Reads four column queries in the caller's transaction, which must be a
    snapshot: REPEATABLE READ on PostgreSQL (see :func:`rebuild`), the write
    lock on SQLite.
    """
    version = graph_stamp(db)
    works = db.execute(
        select(
            Work.id,
            Work.public_id,
            Work.kind,
            Work.title,
            Work.attribution_weight_num,
            Work.attribution_weight_den,
            Work.consent_remix,
            Work.consent_ai_training,
            Work.credit_pool_num,
            Work.credit_pool_den,
        ).order_by(Work.public_id)
    ).all()
    if not works:
        empty = np.zeros(0, np.int64)
        return version, CompactGraph.from_arrays(
            ids=[],
            kinds=np.zeros(0, np.int8),
            creators=[],
            edge_work=empty,
            edge_source=empty,
            share_num=empty,
            share_den=empty,
            owner_work=empty,
            owner_creator=empty,
            own_num=empty,
            own_den=empty,
        )
    row_ids = np.fromiter((w[0] for w in works), np.int64, len(works))
    order = np.argsort(row_ids)
    sorted_ids = row_ids[order]

    def positions(column: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return order[np.searchsorted(sorted_ids, column)]

    kind_code = {kind: i for i, kind in enumerate(KINDS)}
    citations = np.array(
        db.execute(
            select(Citation.work_id, Citation.source_id, Citation.share_num, Citation.share_den)
        ).all(),
        dtype=np.int64,
    ).reshape(-1, 4)
    owners = np.array(
        db.execute(
            select(
                WorkOwner.work_id,
                WorkOwner.creator_id,
                WorkOwner.fraction_num,
                WorkOwner.fraction_den,
            )
        ).all(),
        dtype=np.int64,
    ).reshape(-1, 4)
    handles = dict(
        db.execute(
            select(Creator.id, Creator.handle).where(
                Creator.id.in_(select(WorkOwner.creator_id).distinct())
            )
        ).all()
    )
    creator_ids = np.array(sorted(handles, key=handles.__getitem__), np.int64)
    creator_order = np.argsort(creator_ids)
    by_creator_id = creator_ids[creator_order]
    owner_creator = creator_order[np.searchsorted(by_creator_id, owners[:, 1])]
    # Credits: payees by the rule of hitrack.services.graph.credit_payee (a claimed
    # credit pays its creator's handle, any other its escrow, credit:<id>).
    credit_rows = db.execute(
        select(
            Credit.work_id,
            Credit.public_id,
            Credit.status,
            Creator.handle,
            Credit.role,
            Credit.weight_num,
            Credit.weight_den,
        )
        .outerjoin(Creator, Creator.id == Credit.creator_id)
        .where(Credit.removed_at.is_(None))
        .order_by(Credit.work_id, Credit.position, Credit.id)
    ).all()
    credit_payees = [
        handle if status == "claimed" and handle else f"{UNCLAIMED_PREFIX}{public_id}"
        for _, public_id, status, handle, _, _, _ in credit_rows
    ]
    names = [handles[int(c)] for c in creator_ids]
    extra = sorted(set(credit_payees) - set(names))
    names += extra
    position_of = {name: i for i, name in enumerate(names)}
    graph = CompactGraph.from_arrays(
        ids=[w[1] for w in works],
        kinds=np.array([kind_code[w[2]] for w in works], np.int8),
        creators=names,
        edge_work=positions(citations[:, 0]),
        edge_source=positions(citations[:, 1]),
        share_num=citations[:, 2],
        share_den=citations[:, 3],
        owner_work=positions(owners[:, 0]),
        owner_creator=owner_creator,
        own_num=owners[:, 2],
        own_den=owners[:, 3],
        aw_num=np.array([w[4] for w in works], np.int64),
        aw_den=np.array([w[5] for w in works], np.int64),
        titles=[w[3] for w in works],
        consent_remix=[bool(w[6]) for w in works],
        consent_ai=[bool(w[7]) for w in works],
        credit_work=positions(np.array([r[0] for r in credit_rows], np.int64)),
        credit_payee=np.array([position_of[p] for p in credit_payees], np.int64),
        credit_role=[r[4] for r in credit_rows],
        credit_num=np.array([r[5] for r in credit_rows], np.int64),
        credit_den=np.array([r[6] for r in credit_rows], np.int64),
        pool_num=np.array([w[8] for w in works], np.int64),
        pool_den=np.array([w[9] for w in works], np.int64),
    )
    return version, graph


def _to_bytes(graph: CompactGraph) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.npz"
        graph.save(path)
        return path.read_bytes()


def _from_bytes(data: bytes) -> CompactGraph:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.npz"
        path.write_bytes(data)
        return CompactGraph.load(path)


def _own_snapshot(db: Session) -> bool:
    """Whether the graph can be read in a snapshot session of its own (PostgreSQL, an engine)."""
    bind = db.get_bind()
    return bind.dialect.name == "postgresql" and isinstance(bind, Engine)


def rebuild(db: Session) -> int:
    """Build the compact graph of the current version and store it; returns that version.

    Idempotent: a version already stored is not built again. Older stored
    versions are removed. On PostgreSQL the graph is read in a REPEATABLE READ
    snapshot in a session of its own, so graph writers are never blocked.
    """
    if _own_snapshot(db):
        with Session(bind=db.get_bind()) as snapshot, read_only(snapshot):
            snapshot.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            stamp, graph = build(snapshot)
    else:
        stamp, graph = build(db)
    version, token = stamp
    data = _to_bytes(graph)
    with unit_of_work(db):
        stored = db.get(CompactGraphRow, version)
        if stored is not None and stored.token != token:
            db.delete(stored)  # built for a version number since rolled back
            db.flush()
            stored = None
        if stored is None:
            db.add(
                CompactGraphRow(
                    version=version,
                    token=token,
                    works=graph.work_count,
                    citations=graph.edge_count,
                    data=data,
                )
            )
        db.execute(delete(CompactGraphRow).where(CompactGraphRow.version < version))
    with _cache_lock:
        _cache[_key(db)] = (stamp, graph)
    return version


def current(db: Session) -> SettlementGraph | None:
    """The compact graph of the database's current version, or None when there is none yet.

    A graph held in this process is reused while its version matches; otherwise
    the stored one of this version is loaded once. A stale graph is never returned.
    """
    stamp = graph_stamp(db)
    key = _key(db)
    with _cache_lock:
        held = _cache.get(key)
    if held is not None and held[0] == stamp:
        return SettlementGraph(stamp[0], held[1], whole=True)
    data = db.scalar(
        select(CompactGraphRow.data).where(
            CompactGraphRow.version == stamp[0], CompactGraphRow.token == stamp[1]
        )
    )
    if data is None:
        return None
    graph = _from_bytes(data)
    with _cache_lock:
        _cache[key] = (stamp, graph)
    return SettlementGraph(stamp[0], graph, whole=True)


def _ancestry_at_most(db: Session, work_id: int, limit: int) -> bool:
    """Whether the work's ancestry has at most ``limit`` works (the walk stops past it)."""
    walk = select(Work.id.label("id")).where(Work.id == work_id).cte("small", recursive=True)
    walk = walk.union(select(Citation.source_id).join(walk, Citation.work_id == walk.c.id))
    count = db.scalar(
        select(func.count()).select_from(select(walk.c.id).limit(limit + 1).subquery())
    )
    return int(count or 0) <= limit


def submit_rebuild(db: Session, queue: JobQueue, version: int) -> None:
    """Queue a rebuild for ``version`` (once per version), in the caller's unit of work."""
    jobs.submit(db, queue, KIND, {"version": version}, actor=None, key=f"compact-graph:{version}")


def settlement_graph(
    db: Session,
    work_ids: set[int],
    *,
    queue: JobQueue | None = None,
    small_ancestry: int = SMALL_ANCESTRY,
) -> SettlementGraph:
    """The graph to settle events of ``work_ids`` with, exactly at one graph version.

    The current compact graph when there is one. When it is stale (or was never
    built) and the ancestry is small, that ancestry is read under the shared
    graph lock and compacted, and a rebuild is queued on ``queue``; otherwise the
    compact graph is rebuilt now.
    """
    found = current(db)
    if found is not None:
        return found
    if all(_ancestry_at_most(db, work_id, small_ancestry) for work_id in work_ids):
        if db.get_bind().dialect.name == "postgresql":
            db.execute(select(func.pg_advisory_xact_lock_shared(GRAPH_LOCK_ID)))
        version = graph_stamp(db)[0]
        graph = CompactGraph.from_graph(load_graph(db, ancestry_ids(db, work_ids)))
        if queue is not None:
            submit_rebuild(db, queue, version)
        return SettlementGraph(version, graph, whole=False)
    if _own_snapshot(db):
        with Session(bind=db.get_bind()) as rebuild_db:
            rebuild(rebuild_db)
        found = current(db)
        if found is not None:
            return found
    # This transaction's own snapshot (SQLite holds the write lock; or the graph
    # changed again meanwhile): settle on it, without storing it.
    stamp, graph = build(db)
    return SettlementGraph(stamp[0], graph, whole=True)


def whole_graph(db: Session) -> SettlementGraph:
    """The compact graph of the current version, rebuilt first when stale (for batches)."""
    found = current(db)
    if found is not None:
        return found
    if _own_snapshot(db):
        with Session(bind=db.get_bind()) as rebuild_db:
            rebuild(rebuild_db)
        found = current(db)
        if found is not None:
            return found
    stamp, graph = build(db)
    return SettlementGraph(stamp[0], graph, whole=True)


@jobs.job_kind(KIND)
def compact_graph_rebuild_job(ctx: jobs.JobContext) -> Mapping[str, Any]:
    ctx.progress(0, 1, "building the compact graph")
    with ctx.sessions() as db:
        version = rebuild(db)
        row = db.get(CompactGraphRow, version)
        works, citations = (row.works, row.citations) if row is not None else (0, 0)
    ctx.progress(1, 1, "built")
    return {
        "version": version,
        "works": works,
        "citations": citations,
        "summary": f"compact graph at version {version}: {works} works, {citations} citations",
    }
