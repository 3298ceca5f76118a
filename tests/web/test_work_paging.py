"""A popular work's page and API cost the same at 3 citers as at 2,000: paged lists, constant queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask.testing import FlaskClient
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Work
from tests.factories import make_creator, make_record


def add_citers(db: Session, source: Work, n: int, *, prefix: str) -> None:
    """``n`` public records citing ``source`` with 1/1000 each, written in bulk."""
    db.execute(
        insert(Work),
        [
            {"public_id": f"{prefix}{i:05d}", "kind": "record", "title": f"Citer {i}"}
            for i in range(n)
        ],
    )
    ids = db.scalars(select(Work.id).where(Work.public_id.like(f"{prefix}%"))).all()
    db.execute(
        insert(Citation),
        [
            {"work_id": work_id, "source_id": source.id, "share_num": 1, "share_den": 1000}
            for work_id in ids
        ],
    )
    db.commit()


@contextmanager
def counted(connection: Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", count)


def test_work_page_and_api_run_the_same_number_of_queries_for_few_and_many_citers(
    client: FlaskClient, app_db: Session, app_storage, connection: Connection
) -> None:  # type: ignore[no-untyped-def]
    ana = make_creator(app_db, "Ana")
    quiet = make_record(app_db, app_storage, ana, "Quiet")
    popular = make_record(app_db, app_storage, ana, "Popular")
    add_citers(app_db, quiet, 3, prefix="q")
    add_citers(app_db, popular, 2_000, prefix="p")
    counts = {}
    for work in (quiet, popular):
        for url in (f"/works/{work.public_id}", f"/api/v1/works/{work.public_id}"):
            with counted(connection) as statements:
                response = client.get(url)
            assert response.status_code == 200
            counts[work.title, url.startswith("/api")] = len(statements)
    assert counts["Quiet", False] == counts["Popular", False]
    assert counts["Quiet", True] == counts["Popular", True]
    page = client.get(f"/api/v1/works/{popular.public_id}").get_json()
    # Counted up to the cap, then "1000+".
    assert page["cited_by_count"] == 1_000 and page["cited_by_count_exact"] is False
    assert len(page["cited_by"]) == 50
    assert page["cited_by_next"] is not None and page["sources_count"] == 0


def test_citers_are_paged_with_a_cursor_to_the_last_page(
    client: FlaskClient, app_db: Session, app_storage
) -> None:  # type: ignore[no-untyped-def]
    ana = make_creator(app_db, "Ana")
    popular = make_record(app_db, app_storage, ana, "Popular")
    add_citers(app_db, popular, 250, prefix="c")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"per_page": "100", **({"cited_by_after": str(cursor)} if cursor else {})}
        data = client.get(f"/api/v1/works/{popular.public_id}", query_string=query).get_json()
        seen += [c["work"] for c in data["cited_by"]]
        pages += 1
        cursor = data["cited_by_next"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 250
    assert data["cited_by_count"] == 250 and data["cited_by_count_exact"] is True
    assert seen == sorted(seen)  # oldest citation first, as before paging
    html = client.get(f"/works/{popular.public_id}", query_string={"per_page": "100"})
    text = html.get_data(as_text=True)
    assert "Cited by 250 works" in text and 'id="cited-by-next"' in text
    assert text.count("Citer ") == 100


def test_a_private_citer_is_neither_listed_nor_counted_for_others(
    client: FlaskClient, app_db: Session, app_storage
) -> None:  # type: ignore[no-untyped-def]
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    source = make_record(app_db, app_storage, ana, "Source")
    make_record(app_db, app_storage, bo, "Open", sources={source.public_id: "0.1"})
    make_record(
        app_db, app_storage, bo, "Secret", sources={source.public_id: "0.1"}, visibility="private"
    )
    data = client.get(f"/api/v1/works/{source.public_id}").get_json()
    assert data["cited_by_count"] == 1 and len(data["cited_by"]) == 1


def test_sources_are_paged_and_the_retained_share_is_exact(
    client: FlaskClient, app_db: Session, app_storage
) -> None:  # type: ignore[no-untyped-def]
    ana = make_creator(app_db, "Ana")
    a = make_record(app_db, app_storage, ana, "A")
    b = make_record(app_db, app_storage, ana, "B")
    c = make_record(app_db, app_storage, ana, "C")
    remix = make_record(
        app_db,
        app_storage,
        ana,
        "Remix",
        sources={a.public_id: "1/3", b.public_id: "1/6", c.public_id: "0.25"},
    )
    first = client.get(f"/api/v1/works/{remix.public_id}?per_page=2").get_json()
    assert first["retained_share"] == "0.25" and first["sources_count"] == 3
    assert [s["title"] for s in first["sources"]] == ["A", "B"]
    rest = client.get(
        f"/api/v1/works/{remix.public_id}?per_page=2&sources_after={first['sources_next']}"
    ).get_json()
    assert [s["title"] for s in rest["sources"]] == ["C"] and rest["sources_next"] is None


def test_bad_paging_arguments_are_refused_with_the_argument_named(
    client: FlaskClient, app_db: Session, app_storage
) -> None:  # type: ignore[no-untyped-def]
    ana = make_creator(app_db, "Ana")
    work = make_record(app_db, app_storage, ana, "Work")
    for query, name in (
        ("per_page=0", "per_page"),
        ("per_page=201", "per_page"),
        ("per_page=ten", "per_page"),
        ("cited_by_after=-4", "cited_by_after"),
        ("sources_after=99999999999999999999", "sources_after"),
        ("cited_by_after=2147483648", "cited_by_after"),  # past the INTEGER ids (PostgreSQL)
    ):
        response = client.get(f"/api/v1/works/{work.public_id}?{query}")
        assert response.status_code == 422, query
        assert name in response.get_json()["error"]["message"]
        page = client.get(f"/works/{work.public_id}?{query}")
        assert page.status_code == 422 and name in page.get_data(as_text=True)
