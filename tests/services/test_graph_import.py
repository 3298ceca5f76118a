"""Graph import: streamed, checked whole (every bad line named), written in bulk, all or nothing."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from hitrack.db.models import Citation, Creator, Credit, SearchEntry, Work, WorkOwner
from hitrack.db.session import make_engine, make_session_factory
from hitrack.services import graph_import, search
from hitrack.services.graph import export_all, graph_version
from hitrack.services.graph_import import GraphImportRefused, import_graph
from tests.conftest import migrated_postgres_schema
from tests.factories import make_creator, make_record

FILM = {
    "currency": "USD",
    "works": [
        {
            "id": "f1",
            "kind": "record",
            "title": "Night Swim",
            "owners": {"studio": "1"},
            "consent": {"remix": True, "ai_training": True},
            "credits": [
                {"payee": "gina", "role": "performer", "weight": "3"},
                {"payee": "credit:k7", "role": "sound mixer", "weight": "1", "name": "Kim Seven"},
            ],
            "credit_pool": "1/4",
        },
        {"id": "r2", "kind": "record", "owners": {"bob": "1/2", "carol": "1/2"}},
        {
            "id": "p1",
            "kind": "production",
            "owners": {"dana": "1"},
            "sources": {"f1": "0.3", "r2": "0.6"},
        },
        {
            "id": "m1",
            "kind": "model",
            "owners": {"lab": "1"},
            "sources": {"f1": "1/4"},
            "attribution_weight": "1/2",
        },
    ],
    "events": [{"id": "e1", "work": "p1", "amount": 5}],
}


def run(db, document, **kwargs):
    text = document if isinstance(document, str) else json.dumps(document, indent=1)
    return import_graph(db, io.StringIO(text), **kwargs)


def counts(db):
    return tuple(
        db.scalar(select(func.count()).select_from(model))
        for model in (Work, Citation, WorkOwner, Credit, Creator)
    )


def test_import_writes_works_owners_citations_and_credits(db):
    before = graph_version(db)
    summary = run(db, FILM, min_credit_pool=Fraction(1, 10))
    assert str(summary) == "imported 4 works, 3 citations, 2 credits, 6 new creators"
    assert graph_version(db) == before + 1
    film = db.scalar(select(Work).where(Work.public_id == "f1"))
    assert film.title == "Night Swim" and film.credit_pool == Fraction(1, 4)
    assert film.consent_ai_training
    credits = {c.role: c for c in db.scalars(select(Credit).where(Credit.work_id == film.id))}
    assert credits["performer"].status == "claimed"
    assert credits["performer"].creator.handle == "gina"
    assert credits["sound mixer"].status == "unclaimed"
    assert credits["sound mixer"].public_id == "k7" and credits["sound mixer"].name == "Kim Seven"
    model = db.scalar(select(Work).where(Work.public_id == "m1"))
    assert model.attribution_weight == Fraction(1, 2)
    assert {c.source.public_id: c.share for c in model.sources} == {"f1": Fraction(1, 4)}
    rows = db.scalars(select(Citation.graph_version).distinct()).all()
    assert rows == [before + 1]


def test_export_then_import_round_trips_credits(db, engine):
    run(db, FILM)
    exported = export_all(db)
    by_id = {w["id"]: w for w in exported["works"]}
    assert by_id["f1"]["credit_pool"] == "0.25"
    assert by_id["f1"]["credits"] == [
        {"payee": "gina", "role": "performer", "weight": "3"},
        {"payee": "credit:k7", "role": "sound mixer", "weight": "1", "name": "Kim Seven"},
    ]
    # Into an empty platform: the same works under new ids (and a new unclaimed credit id).
    renamed = json.loads(
        json.dumps(exported).replace('"f1"', '"g1"').replace("credit:k7", "credit:k8")
    )
    for item in renamed["works"]:
        item["id"] = "x" + item["id"]
        item["sources"] = {"x" + s: v for s, v in item.get("sources", {}).items()}
    run(db, renamed)
    again = {w["id"]: w for w in export_all(db)["works"]}
    assert again["xg1"]["credits"][1] == {
        "payee": "credit:k8",
        "role": "sound mixer",
        "weight": "1",
        "name": "Kim Seven",
    }
    for work_id, item in by_id.items():
        copy = again["x" + ("g1" if work_id == "f1" else work_id)]
        assert copy["owners"] == item["owners"] and copy["kind"] == item["kind"]
        assert copy.get("credit_pool") == item.get("credit_pool")
        assert len(copy.get("sources", {})) == len(item.get("sources", {}))


def test_every_bad_line_is_named_and_nothing_is_written(db):
    before = counts(db)
    text = (
        '{"currency": "USD", "works": [\n'
        '{"id": "a", "kind": "record", "owners": {"x": "1/2"}},\n'
        '{"id": "b", "kind": "record", "owners": {"x": "1"}, "sources": {"c": "0.7", "d": "0.7"}},\n'
        '{"id": "c", "kind": "record", "owners": {"x": "1"}},\n'
        '{"id": "c", "kind": "record", "owners": {"x": "1"}},\n'
        '{"id": "e", "kind": "record", "owners": {"x": "1"}, "credits": '
        '[{"payee": "y", "role": "juggler", "weight": "1"}], "credit_pool": "1/2"},\n'
        '{"id": "f", "kind": "record", "owners": {"x": "1"}, "credits": '
        '[{"payee": "y", "role": "performer", "weight": "0"}], "credit_pool": "1/2"}\n'
        "]}\n"
    )
    with pytest.raises(GraphImportRefused) as refused:
        run(db, text)
    lines = dict(refused.value.problems)
    assert set(lines) == {2, 3, 5, 6, 7}
    assert "sum to 1/2" in lines[2]
    assert "above 1" in lines[3]
    assert "duplicate work id c (first on line 4)" in lines[5]
    assert "juggler" in lines[6]
    assert "weight" in lines[7]
    assert refused.value.total == 5
    assert counts(db) == before


def test_whole_graph_rules_are_named_with_their_lines(db, storage):
    stored = make_record(db, storage, make_creator(db, "owner"), "Stored")
    before = counts(db)
    document = {
        "currency": "USD",
        "works": [
            {"id": "a", "kind": "record", "owners": {"x": "1"}, "sources": {"b": "0.5"}},
            {"id": "b", "kind": "record", "owners": {"x": "1"}, "sources": {"a": "0.5"}},
            {"id": "n", "kind": "record", "owners": {"x": "1"}, "consent": {"remix": False}},
            {"id": "q", "kind": "record", "owners": {"x": "1"}, "sources": {"n": "0.1"}},
            {"id": "m", "kind": "model", "owners": {"x": "1"}, "sources": {"q": "0.1"}},
            {"id": "u", "kind": "record", "owners": {"x": "1"}, "sources": {"zzz": "0.1"}},
            {"id": stored.public_id, "kind": "record", "owners": {"x": "1"}},
        ],
    }
    with pytest.raises(GraphImportRefused) as refused:
        run(db, document)
    text = "\n".join(f"{line}: {message}" for line, message in refused.value.problems)
    assert "cycle" in text
    assert "cannot cite n: its owners have not consented to remixes" in text
    assert "model m cannot train on q" in text
    assert "cites unknown work zzz" in text
    assert f"work {stored.public_id} already exists" in text
    assert counts(db) == before


def test_a_work_may_cite_a_stored_work_under_its_consent(db, storage):
    stored = make_record(db, storage, make_creator(db, "owner"), "Stored")
    run(
        db,
        {
            "currency": "USD",
            "works": [
                {
                    "id": "r9",
                    "kind": "record",
                    "owners": {"x": "1"},
                    "sources": {stored.public_id: "1/3"},
                }
            ],
        },
    )
    remix = db.scalar(select(Work).where(Work.public_id == "r9"))
    assert [(c.source_id, c.share) for c in remix.sources] == [(stored.id, Fraction(1, 3))]


def test_malformed_json_is_named_by_line(db):
    with pytest.raises(GraphImportRefused) as refused:
        run(db, '{"currency": "USD", "works": [\n{"id": "a", "kind": "record",\n "owners": }\n]}')
    assert "line 3" in str(refused.value)


@pytest.mark.postgres
def test_an_interrupted_import_leaves_nothing_visible_on_postgresql():
    """An interruption after the works are written (Ctrl-C in the progress line) rolls
    everything back: another connection sees none of it, then or after."""
    with migrated_postgres_schema("graph_import") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        works = [
            {"id": f"w{i}", "kind": "record", "owners": {f"c{i % 7}": "1"}} for i in range(2_000)
        ] + [
            {"id": f"v{i}", "kind": "record", "owners": {"c1": "1"}, "sources": {f"w{i}": "0.5"}}
            for i in range(2_000)
        ]
        seen: list[tuple[int, int]] = []

        def interrupt(message: str) -> None:
            if message.startswith("writing") and "owners" in message:
                with sessions() as other:
                    seen.append(counts(other)[:1] + counts(other)[4:])
                raise KeyboardInterrupt

        try:
            with sessions() as db, pytest.raises(KeyboardInterrupt):
                run(db, {"currency": "USD", "works": works}, progress=interrupt)
            assert seen == [(0, 0)]
            with sessions() as db:
                assert counts(db) == (0, 0, 0, 0, 0)
                # And the same document imports whole afterwards.
                summary = run(db, {"currency": "USD", "works": works})
                assert summary.works == 4_000 and summary.citations == 2_000
            with sessions() as db:
                assert counts(db)[:2] == (4_000, 2_000)
        finally:
            engine.dispose()


def _entries(db):
    return sorted(
        (
            e.entity,
            e.entity_id,
            e.kind,
            e.ref,
            e.media_kind,
            e.title,
            e.byline,
            e.body,
            e.listed,
            e.remixes,
            e.open_until,
            e.created_at,
        )
        for e in db.scalars(select(SearchEntry))
    )


def test_imported_works_and_creators_are_searchable(db, storage):
    """COPY bypasses the flush listener: the import writes the search entries itself, the
    same ones a full re-index writes, and a stored work cited gets its count of remixes."""
    owner = make_creator(db, "olga")
    stored = make_record(db, storage, owner, title="Old Tide", remix=True)
    db.commit()
    document = json.loads(json.dumps(FILM))
    document["works"].append(
        {"id": "r9", "kind": "record", "owners": {"bob": "1"}, "sources": {stored.public_id: "1/3"}}
    )
    run(db, document)
    db.commit()
    imported = _entries(db)
    ids = list(db.scalars(select(Work.id)))
    search.reindex(db.connection(), works=ids, creators=list(db.scalars(select(Creator.id))))
    assert imported == _entries(db)
    refs = {e[3]: e for e in imported}
    assert refs["f1"][6] == "studio" and "Kim Seven (sound mixer)" in refs["f1"][7]
    assert refs["f1"][9] == 2 and refs[stored.public_id][9] == 1 and refs["gina"][0] == "creator"
    found = search.search(db, search.parse_query("night swim"))
    assert [hit.ref for hit in found.hits] == ["f1"]


def _definitions(db):
    return sorted(
        db.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                "convalidated FROM pg_constraint WHERE conrelid IN "
                "('citations'::regclass, 'work_owners'::regclass) "
                "UNION ALL SELECT tablename, indexname, indexdef, true FROM pg_indexes "
                "WHERE tablename IN ('citations', 'work_owners') AND schemaname = current_schema()"
            )
        ).all()
    )


@pytest.mark.postgres
def test_a_first_load_rebuilds_indexes_and_an_interruption_keeps_them(monkeypatch):
    """Past REBUILD_ROWS the tables are written without their indexes and foreign keys and
    rebuilt in the same transaction: interrupted before the rebuild, nothing is visible and
    every index and constraint is still there; finished, they are all back as they were and
    hold (a rebuilt foreign key refuses a citation of a missing work)."""
    monkeypatch.setattr(graph_import, "REBUILD_ROWS", 1)
    with migrated_postgres_schema("graph_rebuild") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        works = [
            {"id": f"w{i}", "kind": "record", "owners": {f"c{i % 7}": "1"}} for i in range(300)
        ]
        works += [
            {"id": f"v{i}", "kind": "record", "owners": {"c1": "1"}, "sources": {f"w{i}": "0.5"}}
            for i in range(300)
        ]
        try:
            with sessions() as db:
                before = _definitions(db)
            assert len(before) >= 12

            def interrupt(message: str) -> None:
                if message.startswith("rebuilding 9"):
                    with sessions() as other:
                        # Another reader waits for the import's locks: it must not block here.
                        other.execute(text("SET lock_timeout = '200ms'"))
                        with pytest.raises(OperationalError):
                            other.execute(select(func.count()).select_from(Citation)).scalar()
                    raise KeyboardInterrupt

            with sessions() as db, pytest.raises(KeyboardInterrupt):
                run(db, {"currency": "USD", "works": works}, progress=interrupt)
            with sessions() as db:
                assert counts(db) == (0, 0, 0, 0, 0)
                assert _definitions(db) == before
            said: list[str] = []
            with sessions() as db:
                summary = run(db, {"currency": "USD", "works": works}, progress=said.append)
                assert summary.citations == 300
            assert "rebuilding 9 indexes and constraints" in said
            with sessions() as db:
                assert _definitions(db) == before
                assert counts(db)[:3] == (600, 300, 600)
                assert len(_entries(db)) == 607
                with pytest.raises(IntegrityError):
                    db.execute(
                        text(
                            "INSERT INTO citations (work_id, source_id, share_num, share_den, "
                            "created_at, graph_version) VALUES (1, 999999, 1, 2, now(), 1)"
                        )
                    )
        finally:
            engine.dispose()
