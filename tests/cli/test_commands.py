"""The hitrack command end to end on a real SQLite file: migrate, seed, admin, graph export/import."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hitrack.cli import main
from hitrack.db.models import Citation, Creator, Work
from hitrack.db.session import make_engine, make_session_factory


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The command reads HITRACK_* from the environment, as it does for users."""
    monkeypatch.setenv("HITRACK_DATA_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("HITRACK_ENV", "test")
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{(tmp_path / 'instance' / 'hitrack.sqlite3').resolve()}")
    yield runner, make_session_factory(engine)
    engine.dispose()


def count(sessions, model):
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_demo_seeds_once(env):
    runner, sessions = env
    first = runner.invoke(main, ["demo"])
    assert first.exit_code == 0 and "seeded" in first.output
    creators = count(sessions, Creator)
    assert creators >= 4 and count(sessions, Citation) >= 4
    again = runner.invoke(main, ["demo"])
    assert again.exit_code == 0 and count(sessions, Creator) == creators


def test_create_admin_reads_the_password_from_stdin(env):
    runner, sessions = env
    result = runner.invoke(
        main,
        ["create-admin", "root@example.test", "--password-stdin"],
        input="a long admin password\n",
    )
    assert result.exit_code == 0, result.output
    with sessions() as db:
        assert db.scalar(select(Creator).where(Creator.email == "root@example.test")).is_admin
    short = runner.invoke(
        main, ["create-admin", "x@example.test", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "password" in short.output


DOC = {
    "currency": "USD",
    "works": [
        {
            "id": "r1",
            "kind": "record",
            "owners": {"alice": "1"},
            "title": "Shoreline",
            "consent": {"remix": True, "ai_training": True},
        },
        {
            "id": "r2",
            "kind": "record",
            "owners": {"bob": "1/2", "carol": "1/2"},
            "sources": {"r1": "0.4"},
        },
        {
            "id": "p1",
            "kind": "production",
            "owners": {"dana": "1"},
            "sources": {"r1": "0.3", "r2": "0.6"},
        },
    ],
}


def test_graph_import_then_export_round_trips(env, tmp_path):
    runner, sessions = env
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(DOC))
    result = runner.invoke(main, ["graph", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 3 works, 3 citations, 0 credits, 4 new creators" in result.output
    exported = json.loads(runner.invoke(main, ["graph", "export"]).stdout)
    by_id = {w["id"]: w for w in exported["works"]}
    assert by_id["r2"]["owners"] == {"bob": "0.5", "carol": "0.5"}
    assert by_id["p1"]["sources"] == {"r1": "0.3", "r2": "0.6"}
    assert by_id["r1"]["consent"] == {"remix": True, "ai_training": True}


@pytest.mark.parametrize(
    "works,message",
    [
        (
            [
                {"id": "a", "kind": "record", "owners": {"x": "1"}, "sources": {"b": "0.5"}},
                {"id": "b", "kind": "record", "owners": {"x": "1"}, "sources": {"a": "0.5"}},
            ],
            "cycle",
        ),
        (
            [
                {"id": "a", "kind": "record", "owners": {"x": "1"}},
                {
                    "id": "b",
                    "kind": "record",
                    "owners": {"x": "1"},
                    "sources": {"a": "0.7", "c": "0.7"},
                },
                {"id": "c", "kind": "record", "owners": {"x": "1"}},
            ],
            "b",
        ),
        (
            [
                {"id": "a", "kind": "record", "owners": {"x": "1"}, "consent": {"remix": False}},
                {"id": "b", "kind": "record", "owners": {"x": "1"}, "sources": {"a": "0.5"}},
            ],
            "a",
        ),
        ([{"id": "a", "kind": "record", "owners": {"x": "1"}, "sources": {"zzz": "0.5"}}], "zzz"),
    ],
)
def test_graph_import_writes_nothing_on_any_error(env, tmp_path, works, message):
    runner, sessions = env
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"currency": "USD", "works": works}))
    result = runner.invoke(main, ["graph", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.output.lower() or message in result.output
    assert count(sessions, Work) == 0 and count(sessions, Creator) == 0


def test_graph_import_refuses_ids_that_exist(env, tmp_path):
    runner, sessions = env
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(DOC))
    assert runner.invoke(main, ["graph", "import", str(path)]).exit_code == 0
    again = runner.invoke(main, ["graph", "import", str(path)])
    assert again.exit_code == 1 and "already exist" in again.output
    assert count(sessions, Work) == 3


def test_models_manifest_registers_a_version_or_names_each_refused_row(env, tmp_path):
    from hitrack.services import ai_models

    runner, sessions = env
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(DOC))
    assert runner.invoke(main, ["graph", "import", str(path)]).exit_code == 0
    made = runner.invoke(
        main, ["create-admin", "lab@example.test", "--password-stdin"], input="a long password\n"
    )
    assert made.exit_code == 0, made.output
    with sessions() as db:
        lab = db.scalar(select(Creator).where(Creator.email == "lab@example.test"))
        model = ai_models.register_model(db, lab, name="M", manifest={"r1": "1"}).model.public_id
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("record,weight\nr1,2\nr2,1\nnope,1\n")
    args = ["models", "manifest", model, str(manifest), "--version", "2"]
    refused = runner.invoke(main, [*args, "--as", "lab@example.test"])
    assert refused.exit_code == 1
    assert "row 3: r2" in refused.output and "row 4: unknown record nope" in refused.output
    manifest.write_text("r1,2\n")
    done = runner.invoke(main, [*args, "--as", "lab@example.test"])
    assert done.exit_code == 0, done.output
    assert "trained on 1 records" in done.output
