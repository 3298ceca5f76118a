import json

from click.testing import CliRunner

from hitrack.domain.settlement import ENGINES
from hitrack.settle_cli import settle

from .factories import DESIGN_DOCUMENT


def run(args, stdin=None):
    return CliRunner().invoke(settle, args, input=stdin)


def test_settle_prints_the_settlement_of_a_file(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(DESIGN_DOCUMENT))
    result = run([str(path)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["alice"] == 534275


def test_settle_reads_standard_input_and_engines_agree():
    outputs = [
        json.loads(run(["-", "--batch", "--engine", e], json.dumps(DESIGN_DOCUMENT)).stdout)
        for e in ENGINES
    ]
    assert outputs[0] == outputs[1]
    assert outputs[0]["batch"]["creators"]["bob"] == 159863


def test_explain_adds_the_creators_explanations():
    out = json.loads(run(["-", "--explain", "alice"], json.dumps(DESIGN_DOCUMENT)).stdout)
    assert out["explanations"][0]["micros"] == 437400


def test_bad_input_exits_non_zero_with_one_line_naming_the_id_and_nothing_on_stdout():
    bad = dict(DESIGN_DOCUMENT, events=[{"id": "e7", "work": "ghost", "amount": 1}])
    for text in (json.dumps(bad), "{not json"):
        result = run(["-"], text)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
    assert "e7" in run(["-"], json.dumps(bad)).stderr


def test_a_missing_file_is_reported_on_one_line(tmp_path):
    result = run([str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and result.stdout == "" and "missing.json" in result.stderr
