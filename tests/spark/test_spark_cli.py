"""``hitrack settle --engine spark``: the same output, messages and exit codes as the other engines."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hitrack.settings import Settings
from hitrack.settle_cli import settle
from tests.factories import DESIGN_DOCUMENT


def run(args, stdin=None, env=None):
    return CliRunner().invoke(settle, args, input=stdin, env=env)


def test_settle_on_spark_prints_the_exact_engines_document(spark):
    text = json.dumps(DESIGN_DOCUMENT)
    exact = run(["-", "--engine", "exact"], text)
    on_spark = run(["-", "--engine", "spark", "--master", "local[2]"], text)
    assert on_spark.exit_code == 0, on_spark.stderr
    assert json.loads(on_spark.stdout) == json.loads(exact.stdout)
    assert json.loads(on_spark.stdout)["totals"]["alice"] == 534275


def test_the_engine_setting_picks_spark_for_a_batch_with_explanations(spark):
    # One job settles the batch and, for the explanations, each event alone.
    text = json.dumps(DESIGN_DOCUMENT)
    exact = run(["-", "--batch", "--explain", "bob", "--engine", "exact"], text)
    result = run(
        ["-", "--batch", "--explain", "bob"], text, env={"HITRACK_SETTLEMENT_ENGINE": "spark"}
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == json.loads(exact.stdout)
    assert out["batch"]["creators"]["bob"] == 159863
    assert [e["micros"] for e in out["explanations"]] == [145800, 14063]


BAD = [
    dict(DESIGN_DOCUMENT, events=[{"id": "e7", "work": "ghost", "amount": 1}]),
    dict(DESIGN_DOCUMENT, events=[{"id": "e8", "work": "r1", "amount": -1}]),
    dict(
        DESIGN_DOCUMENT,
        events=[{"id": "e9", "work": "m1", "amount": 5, "attribution": {"p1": "1"}}],
    ),
    dict(
        DESIGN_DOCUMENT,
        works=[
            {"id": "a", "kind": "record", "owners": {"x": "1"}, "sources": {"b": "1/2"}},
            {"id": "b", "kind": "record", "owners": {"x": "1"}, "sources": {"a": "1/2"}},
        ],
        events=[],
    ),
    dict(
        DESIGN_DOCUMENT,
        works=[
            {"id": "a", "kind": "record", "owners": {"x": "1"}},
            {
                "id": "b",
                "kind": "record",
                "owners": {"x": "1"},
                "sources": {"a": "3/4", "c": "1/2"},
            },
            {"id": "c", "kind": "record", "owners": {"x": "1"}},
        ],
        events=[],
    ),
]


@pytest.mark.parametrize("text", [json.dumps(doc) for doc in BAD] + ["{not json"])
def test_bad_input_gets_the_same_message_and_exit_code_as_the_exact_engine(text):
    # Validation runs in the domain before Spark starts: no session is needed here.
    exact = run(["-", "--engine", "exact"], text)
    on_spark = run(["-", "--engine", "spark", "--master", "local[2]"], text)
    assert exact.exit_code == on_spark.exit_code == 1
    assert on_spark.stdout == exact.stdout == ""
    assert on_spark.stderr == exact.stderr
    assert len(on_spark.stderr.strip().splitlines()) == 1


def test_the_engine_settings_are_read_and_checked():
    settings = Settings.from_env(
        {"HITRACK_SETTLEMENT_ENGINE": "spark", "HITRACK_SPARK_MASTER": "spark://h:7077"}
    )
    assert (settings.settlement_engine, settings.spark_master) == ("spark", "spark://h:7077")
    assert (Settings().settlement_engine, Settings().spark_master) == ("fast", "local[*]")
    with pytest.raises(Exception, match="HITRACK_SETTLEMENT_ENGINE"):
        Settings.from_env({"HITRACK_SETTLEMENT_ENGINE": "hadoop"})
