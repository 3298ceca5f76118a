from decimal import Decimal
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitrack.domain.errors import InvalidInput, InvalidShare
from hitrack.domain.money import allocate, format_micros, format_micros_exact, to_minor_units
from hitrack.domain.shares import format_share, loads_json, parse_share


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, F(1)),
        ("0.25", F(1, 4)),
        ("1/3", F(1, 3)),
        (" 2 / 6 ", F(1, 3)),
        (Decimal("0.1"), F(1, 10)),
        (F(2, 7), F(2, 7)),
        ("1e-2", F(1, 100)),
        ("-0.5", F(-1, 2)),
    ],
)
def test_shares_parse_exactly_from_integers_decimals_and_fractions(raw, expected):
    assert parse_share(raw) == expected


@pytest.mark.parametrize(
    "raw", [0.1, True, "abc", "1/0", "", "nan", Decimal("NaN"), "1e999", None, [1]]
)
def test_bad_shares_are_rejected_naming_the_value(raw):
    with pytest.raises(InvalidShare, match="share of p1"):
        parse_share(raw, what="share of p1")


def test_json_numbers_are_read_through_their_decimal_text():
    assert parse_share(loads_json('{"s": 0.1}')["s"]) == F(1, 10)


def test_malformed_json_is_an_invalid_input():
    with pytest.raises(InvalidInput, match="malformed JSON at line 1"):
        loads_json("{oops")


@given(st.fractions(min_value=-10, max_value=10, max_denominator=10**6))
@settings(max_examples=200, deadline=None)
def test_formatted_shares_parse_back_to_the_same_value(value):
    assert parse_share(format_share(value)) == value


def test_shares_format_as_integer_decimal_or_fraction():
    assert [format_share(F(3)), format_share(F(3, 8)), format_share(F(2, 3))] == [
        "3",
        "0.375",
        "2/3",
    ]


def test_allocation_gives_leftover_micros_to_largest_remainders_then_by_key():
    # 100 * (0.335, 0.335, 0.33) = 33.5, 33.5, 33 -> floors 33, 33, 33; one micro left;
    # a and b tie at .5, a wins by key order.
    assert allocate(100, {"b": F(67, 2), "a": F(67, 2), "c": F(33)}) == {"b": 33, "a": 34, "c": 33}


def test_allocation_refuses_entitlements_that_do_not_sum_to_the_total():
    with pytest.raises(InvalidInput):
        allocate(10, {"a": F(9)})


@given(st.integers(0, 10**12), st.lists(st.integers(1, 1000), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_allocation_conserves_and_stays_within_one_micro(total, weights):
    entitled = {f"k{i}": F(total * w, sum(weights)) for i, w in enumerate(weights)}
    out = allocate(total, entitled)
    assert sum(out.values()) == total
    assert all(0 <= out[k] - entitled[k] < 1 or abs(out[k] - entitled[k]) < 1 for k in out)


def test_money_prints_to_the_cent_and_exactly():
    assert format_micros(12_345_678) == "12.34"
    assert format_micros_exact(12_345_678) == "12.345678"
    assert to_minor_units(-19_999, "USD") == -1


# --- Percentages, as typed in the source pickers (issue 15) -------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50%", F(1, 2)), ("12.5 %", F(1, 8)), ("100%", F(1)), ("1/3", F(1, 3))],
)
def test_percentages_and_fractions_read_exactly(text, expected):
    assert parse_share(text) == expected


@pytest.mark.parametrize("text", ["%", "50%%", "1/3%", "abc%"])
def test_a_malformed_percentage_is_refused(text):
    with pytest.raises(InvalidShare):
        parse_share(text)
