import json

from click.testing import CliRunner

from hitrack.domain.settlement import ENGINES
from hitrack.settle_cli import settle
from tests.factories import CREDITS_DOCUMENT, DESIGN_DOCUMENT


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


def test_settle_reads_credits_and_prints_every_payee_on_every_engine():
    # Worked in test_payees: e1 pays ann 486000, studio 243000, gina 60750 and
    # the unclaimed sound mixer's escrow credit:k7 20250; e2's 7 micros pay
    # studio 5, gina 1, credit:k7 1.
    for name in ENGINES:
        result = run(["-", "--engine", name], json.dumps(CREDITS_DOCUMENT))
        assert result.exit_code == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["events"][0]["creators"] == {
            "ann": 486000,
            "credit:k7": 20250,
            "gina": 60750,
            "studio": 243000,
        }
        assert out["events"][0]["recouped"] == {"ann": 100000}
        assert out["totals"] == {"ann": 586000, "credit:k7": 20251, "gina": 60751, "studio": 243005}


def test_settle_explains_a_credit_with_its_role():
    result = run(["-", "--explain", "credit:k7"], json.dumps(CREDITS_DOCUMENT))
    [first, second] = json.loads(result.stdout)["explanations"]
    assert (first["micros"], second["micros"]) == (20250, 1)
    assert first["works"][0]["parts"] == [
        {"as": "credit", "role": "sound mixer", "share": "0.0625", "credit_pool": "0.25"}
    ]


def test_bad_credits_and_the_minimum_pool_exit_non_zero_naming_the_work():
    bad = json.loads(json.dumps(CREDITS_DOCUMENT))
    bad["works"][0]["credits"][0]["weight"] = "0"
    cases = [
        (bad, ["-"], {}, "credit weight of gina must be positive"),
        (CREDITS_DOCUMENT, ["-", "--min-credit-pool", "0.3"], {}, "below the minimum 3/10"),
        (CREDITS_DOCUMENT, ["-"], {"HITRACK_MIN_CREDIT_POOL": "1/2"}, "below the minimum 1/2"),
    ]
    for document, args, env, message in cases:
        result = CliRunner(env=env).invoke(settle, args, input=json.dumps(document))
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert "work f1" in result.stderr and message in result.stderr
    outside = run(["-", "--min-credit-pool", "2"], json.dumps(CREDITS_DOCUMENT))
    assert outside.exit_code == 1 and "HITRACK_MIN_CREDIT_POOL 2 is outside" in outside.stderr
