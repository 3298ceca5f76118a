"""Search and browsing: works, productions, models, creators and open calls by their words.

Everything searchable has one row in :class:`~hitrack.db.models.SearchEntry`
(title, who it is by, and a body of description, owners, credits, roles and tags).
The rows are kept in step here, by a session listener that re-indexes what
each flush wrote (works, their owners, credits and citations, creators, open
calls), so no write path can forget the index. Bulk loads that bypass the ORM
call :func:`reindex` themselves.

The text index is the database's own: an FTS5 table on SQLite (the default),
a ``tsvector`` column with a GIN index on PostgreSQL, both created by
migration 0014. :func:`search` is the one interface; :class:`Fts5Text` and
:class:`PostgresText` are its two implementations, chosen by the session's
dialect. Results are paged (at most :data:`MAX_PAGE` pages of
:data:`PAGE_SIZE`), so nothing here grows with the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Select,
    delete,
    event,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.sql.elements import ColumnElement

from hitrack.db.models import (
    Citation,
    Creator,
    Credit,
    OpenCall,
    SearchEntry,
    Work,
    WorkOwner,
)
from hitrack.domain.errors import InvalidInput, NotFound

__all__ = [
    "SEARCH_KINDS",
    "MEDIA_KINDS",
    "SORTS",
    "PAGE_SIZE",
    "MAX_PAGE",
    "SearchQuery",
    "Hit",
    "SearchPage",
    "TextIndex",
    "Fts5Text",
    "PostgresText",
    "parse_query",
    "search",
    "suggest_works",
    "reindex",
    "resolve_source",
    "source_label",
    "AmbiguousSource",
]

SEARCH_KINDS = ("record", "production", "model", "creator", "call")
MEDIA_KINDS = ("audio", "video", "image", "text")
SORTS = ("relevance", "new", "remixed")
PAGE_SIZE = 20
MAX_PAGE = 50
MAX_WORDS = 12
_CHUNK = 500
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchQuery:
    """What was asked: words, which kinds, which media, the order and the page."""

    words: str = ""
    kinds: tuple[str, ...] = ()
    media: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = PAGE_SIZE
    #: Match words by their beginnings (the source picker, as the creator types).
    prefix: bool = False

    @property
    def tokens(self) -> list[str]:
        return _WORD.findall(self.words.lower())[:MAX_WORDS]


@dataclass(frozen=True)
class Hit:
    """One result: enough to show and link it without another query."""

    entity: str
    kind: str
    ref: str
    title: str
    byline: str
    snippet: str
    media_kind: str | None
    remixes: int
    created_at: datetime
    open_until: datetime | None


@dataclass(frozen=True)
class SearchPage:
    query: SearchQuery
    hits: list[Hit]
    has_next: bool


def parse_query(
    words: object = "",
    kinds: Iterable[object] = (),
    media: object = None,
    sort: object = None,
    page: object = None,
) -> SearchQuery:
    """Read a query from request arguments; anything unknown is an :class:`InvalidInput`."""
    if not isinstance(words, str):
        raise InvalidInput("q: expected text")
    if len(words) > 200 or "\x00" in words:
        raise InvalidInput("q: at most 200 characters of text")
    kind_list: list[str] = []
    for kind in kinds:
        if kind in ("", None):
            continue
        if kind not in SEARCH_KINDS:
            raise InvalidInput(f"kind: one of {', '.join(SEARCH_KINDS)}, not {kind!r}")
        kind_list.append(str(kind))
    if media in ("", None):
        media = None
    elif media not in MEDIA_KINDS:
        raise InvalidInput(f"media: one of {', '.join(MEDIA_KINDS)}, not {media!r}")
    if sort in ("", None):
        sort = "relevance"
    elif sort not in SORTS:
        raise InvalidInput(f"sort: one of {', '.join(SORTS)}, not {sort!r}")
    number = 1
    if page not in ("", None):
        if not isinstance(page, str | int) or not str(page).isdigit():
            raise InvalidInput("page: a whole number from 1")
        number = int(page)
        if not 1 <= number <= MAX_PAGE:
            raise InvalidInput(f"page: from 1 to {MAX_PAGE}")
    return SearchQuery(
        words=words.strip(),
        kinds=tuple(dict.fromkeys(kind_list)),
        media=str(media) if media else None,
        sort=str(sort),
        page=number,
    )


# --- The text index: one interface, two implementations ---------------------------


class TextIndex(Protocol):
    """Matches entries by words and ranks them (higher is better)."""

    def matches(self, words: str, tokens: Sequence[str], *, prefix: bool) -> Select[Any]:
        """A select of ``(id, rank)`` for the entries matching the words (every token)."""
        ...


class Fts5Text:
    """SQLite: the ``search_fts`` FTS5 table (porter stemming), ranked by BM25."""

    def matches(self, words: str, tokens: Sequence[str], *, prefix: bool) -> Select[Any]:
        # Each token is quoted, so nothing the user types is read as FTS5 syntax.
        expression = " ".join(f'"{t}"' + ("*" if prefix else "") for t in tokens)
        fts = table("search_fts")
        rowid: ColumnElement[Any] = literal_column("search_fts.rowid")
        bm25: ColumnElement[Any] = literal_column("bm25(search_fts, 10.0, 1.0)")
        stmt: Select[Any] = (
            select(rowid.label("id"), (-bm25).label("rank"))
            .select_from(fts)
            .where(text("search_fts MATCH :fts_query").bindparams(fts_query=expression))
        )
        return stmt


class PostgresText:
    """PostgreSQL: the generated ``document`` tsvector (GIN index), ranked by ``ts_rank``.

    Words go through ``websearch_to_tsquery`` (quotes, ``or`` and ``-word``
    work as on a web search engine); the title picker asks for prefixes.
    """

    def matches(self, words: str, tokens: Sequence[str], *, prefix: bool) -> Select[Any]:
        document: ColumnElement[Any] = literal_column("search_entries.document")
        query: ColumnElement[Any]
        if prefix:
            # Tokens are \w+ runs, so they are safe inside to_tsquery's syntax.
            query = func.to_tsquery("english", " & ".join(f"{t}:*" for t in tokens))
        else:
            query = func.websearch_to_tsquery("english", words)
        return select(
            SearchEntry.id.label("id"), func.ts_rank(document, query).label("rank")
        ).where(document.op("@@")(query))


def text_index(db: Session) -> TextIndex:
    """The implementation for the session's database."""
    if db.get_bind().dialect.name == "postgresql":
        return PostgresText()
    return Fts5Text()


# --- Searching -------------------------------------------------------------------


def _open_or_not_a_call(now: datetime) -> ColumnElement[bool]:
    return or_(SearchEntry.open_until.is_(None), SearchEntry.open_until > now)


def search(db: Session, query: SearchQuery, *, now: datetime | None = None) -> SearchPage:
    """One page of listed entries matching ``query``; closed calls are left out."""
    at = now or datetime.now(UTC)
    stmt = select(SearchEntry).where(SearchEntry.listed.is_(True), _open_or_not_a_call(at))
    rank: ColumnElement[Any] | None = None
    tokens = query.tokens
    if tokens:
        matched = (
            text_index(db).matches(query.words, tokens, prefix=query.prefix).subquery("matched")
        )
        stmt = stmt.join(matched, matched.c.id == SearchEntry.id)
        rank = matched.c.rank
    if query.kinds:
        stmt = stmt.where(SearchEntry.kind.in_(query.kinds))
    if query.media:
        stmt = stmt.where(SearchEntry.media_kind == query.media)
    if query.sort == "remixed":
        stmt = stmt.order_by(SearchEntry.remixes.desc(), SearchEntry.created_at.desc())
    elif query.sort == "relevance" and rank is not None:
        stmt = stmt.order_by(rank.desc(), SearchEntry.created_at.desc())
    else:
        stmt = stmt.order_by(SearchEntry.created_at.desc())
    stmt = stmt.order_by(SearchEntry.id.desc())
    rows = list(
        db.scalars(stmt.offset((query.page - 1) * query.per_page).limit(query.per_page + 1))
    )
    hits = [_hit(row) for row in rows[: query.per_page]]
    return SearchPage(query, hits, has_next=len(rows) > query.per_page)


def suggest_works(db: Session, words: object, *, limit: int = 8) -> list[Hit]:
    """Works whose titles and credits start with the typed words: the source picker's list."""
    query = parse_query(words, kinds=("record", "production"), sort="relevance")
    if not query.tokens:
        return []
    page = search(db, SearchQuery(query.words, query.kinds, per_page=limit, prefix=True))
    return page.hits


_REFERENCE = re.compile(r"\((?P<id>[a-z][0-9a-f]{10})\)\s*$")


def source_label(hit: Hit) -> str:
    """How the picker writes a chosen work: its title and, in brackets, its id."""
    return f"{hit.title} ({hit.ref})"


def resolve_source(db: Session, text: str) -> str:
    """A work id from what was typed in a source picker: an id, ``Title (id)`` or a title.

    A title must name exactly one listed record or production; when several
    share it, the error lists them as ``Title (id)`` so the picker can offer them.
    """
    typed = text.strip()
    match = _REFERENCE.search(typed)
    if match:
        return match["id"]
    if not typed or db.scalar(select(Work.id).where(Work.public_id == typed)) is not None:
        return typed
    wanted = " ".join(typed.lower().split())
    candidates = [
        hit
        for hit in search(
            db, SearchQuery(typed, ("record", "production"), sort="relevance", per_page=50)
        ).hits
        if " ".join(hit.title.lower().split()) == wanted
    ]
    if len(candidates) == 1:
        return candidates[0].ref
    if not candidates:
        raise NotFound(f"no work is titled “{typed[:80]}”: pick one from the suggestions")
    raise AmbiguousSource(typed, candidates)


class AmbiguousSource(InvalidInput):
    """Several works share the typed title; ``candidates`` are offered to pick from."""

    def __init__(self, typed: str, candidates: list[Hit]) -> None:
        self.candidates = candidates
        listed = "; ".join(f"{source_label(h)} by {h.byline}" for h in candidates[:8])
        super().__init__(f"several works are titled “{typed[:80]}”: pick one of {listed}")


def _hit(row: SearchEntry) -> Hit:
    snippet = row.body if len(row.body) <= 200 else row.body[:199].rstrip() + "…"
    return Hit(
        entity=row.entity,
        kind=row.kind,
        ref=row.ref,
        title=row.title,
        byline=row.byline,
        snippet=snippet,
        media_kind=row.media_kind,
        remixes=row.remixes,
        created_at=row.created_at,
        open_until=row.open_until,
    )


# --- Keeping the index in step ----------------------------------------------------


def reindex(
    conn: Connection,
    *,
    works: Iterable[int] = (),
    creators: Iterable[int] = (),
    calls: Iterable[int] = (),
) -> None:
    """Rewrite the entries of these works, creators and calls from their rows (chunked)."""
    for ids in _chunks(works):
        _reindex_works(conn, ids)
    for ids in _chunks(creators):
        _reindex_creators(conn, ids)
    for ids in _chunks(calls):
        _reindex_calls(conn, ids)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    wanted = sorted({i for i in ids if i is not None})
    for i in range(0, len(wanted), _CHUNK):
        yield wanted[i : i + _CHUNK]


def _replace(conn: Connection, entity: str, ids: list[int], rows: list[dict[str, object]]) -> None:
    conn.execute(
        delete(SearchEntry).where(SearchEntry.entity == entity, SearchEntry.entity_id.in_(ids))
    )
    if rows:
        conn.execute(insert(SearchEntry), rows)


def _reindex_works(conn: Connection, ids: list[int]) -> None:
    owners: dict[int, list[str]] = {}
    for work_id, name in conn.execute(
        select(WorkOwner.work_id, Creator.display_name)
        .join(Creator, Creator.id == WorkOwner.creator_id)
        .where(WorkOwner.work_id.in_(ids))
        .order_by(WorkOwner.work_id, Creator.display_name)
    ):
        owners.setdefault(work_id, []).append(name)
    credits: dict[int, list[str]] = {}
    for work_id, name, role in conn.execute(
        select(Credit.work_id, Credit.name, Credit.role)
        .where(Credit.work_id.in_(ids), Credit.removed_at.is_(None))
        .order_by(Credit.work_id, Credit.position)
    ):
        credits.setdefault(work_id, []).append(f"{name} ({role})")
    remixes = dict(
        conn.execute(
            select(Citation.source_id, func.count())
            .where(Citation.source_id.in_(ids))
            .group_by(Citation.source_id)
        ).all()
    )
    rows: list[dict[str, object]] = []
    for work in conn.execute(select(Work.__table__).where(Work.id.in_(ids))).mappings():
        byline = ", ".join(owners.get(work["id"], []))
        body = " · ".join(
            part
            for part in (
                work["description"],
                byline,
                "; ".join(credits.get(work["id"], [])),
                _tag_text(work["tags"]),
            )
            if part
        )
        unpublished = work["kind"] == "production" and work["status"] in ("draft", "cancelled")
        rows.append(
            {
                "entity": "work",
                "entity_id": work["id"],
                "kind": work["kind"],
                "ref": work["public_id"],
                "media_kind": work["media_kind"],
                "title": work["title"][:300],
                "byline": byline[:300],
                "body": body,
                "listed": work["visibility"] == "public" and not unpublished,
                "remixes": int(remixes.get(work["id"], 0)),
                "open_until": None,
                "created_at": work["created_at"],
            }
        )
    _replace(conn, "work", ids, rows)


def _tag_text(tags: object) -> str:
    """A work's tags as words of its entry body, so both text indexes match them.

    Tags live in the body (not a column of their own) because the FTS5 table
    and the PostgreSQL ``document`` are built from title and body: no new index
    to keep in step, and a tag edit is re-indexed by the same flush listener as
    a title edit. Tags come from JSON, so anything but a list of text is ignored.
    """
    if not isinstance(tags, list):
        return ""
    words = [tag for tag in tags if isinstance(tag, str) and tag]
    return "tags: " + ", ".join(words) if words else ""


def _reindex_creators(conn: Connection, ids: list[int]) -> None:
    rows: list[dict[str, object]] = [
        {
            "entity": "creator",
            "entity_id": creator_id,
            "kind": "creator",
            "ref": handle,
            "media_kind": None,
            "title": name[:300],
            "byline": f"@{handle}",
            "body": handle,
            "listed": True,
            "remixes": 0,
            "open_until": None,
            "created_at": created_at,
        }
        for creator_id, handle, name, created_at in conn.execute(
            select(Creator.id, Creator.handle, Creator.display_name, Creator.created_at).where(
                Creator.id.in_(ids)
            )
        )
    ]
    _replace(conn, "creator", ids, rows)


def _reindex_calls(conn: Connection, ids: list[int]) -> None:
    rows: list[dict[str, object]] = []
    for call in conn.execute(
        select(
            OpenCall.id,
            OpenCall.public_id,
            OpenCall.title,
            OpenCall.description,
            OpenCall.media_kinds,
            OpenCall.deadline,
            OpenCall.status,
            OpenCall.created_at,
            Work.title.label("production_title"),
            Work.visibility,
        )
        .join(Work, Work.id == OpenCall.production_id)
        .where(OpenCall.id.in_(ids))
    ).mappings():
        kinds = list(call["media_kinds"] or [])
        rows.append(
            {
                "entity": "call",
                "entity_id": call["id"],
                "kind": "call",
                "ref": call["public_id"],
                "media_kind": kinds[0] if len(kinds) == 1 else None,
                "title": call["title"][:300],
                "byline": call["production_title"][:300],
                "body": " · ".join(
                    [call["description"], call["production_title"], "wanted: " + " ".join(kinds)]
                ),
                "listed": call["status"] == "open" and call["visibility"] == "public",
                "remixes": 0,
                "open_until": call["deadline"],
                "created_at": call["created_at"],
            }
        )
    _replace(conn, "call", ids, rows)


@event.listens_for(Session, "after_flush")
def _index_what_was_written(session: Session, context: UOWTransaction) -> None:
    works: set[int] = set()
    creators: set[int] = set()
    calls: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Work):
            works.add(obj.id)
        elif isinstance(obj, WorkOwner | Credit):
            works.add(obj.work_id)
        elif isinstance(obj, Citation):
            works.add(obj.source_id)  # its count of remixes
        elif isinstance(obj, Creator):
            creators.add(obj.id)
        elif isinstance(obj, OpenCall):
            calls.add(obj.id)
            works.add(obj.production_id)
    if works or creators or calls:
        reindex(session.connection(), works=works, creators=creators, calls=calls)
