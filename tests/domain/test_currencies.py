"""The ISO 4217 table and the caps: minor units per currency, refused codes, printing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitrack.domain import money
from hitrack.domain.errors import InvalidInput
from hitrack.domain.money import (
    MAX_ACCOUNT_MICROS,
    MAX_EVENT_MICROS,
    MINOR_UNIT_EXPONENTS,
    check_event_micros,
    format_micros,
    format_minor_units,
    from_minor_units,
    micros_per_minor_unit,
    parse_currency,
    parse_major_units,
    to_minor_units,
    whole_minor_units,
)


@pytest.mark.parametrize(
    ("code", "decimals"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("CHF", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
    ],
)
def test_the_table_has_each_currency_s_iso_4217_decimals(code: str, decimals: int) -> None:
    assert MINOR_UNIT_EXPONENTS[code] == decimals
    assert micros_per_minor_unit(code) == 10 ** (6 - decimals)


@pytest.mark.parametrize("raw", ["XYZ", "usdollar", "", "US", None, 840, "MGA"])
def test_unknown_currencies_are_refused_with_a_clear_error(raw: object) -> None:
    with pytest.raises(InvalidInput, match="currency"):
        parse_currency(raw)


def test_a_currency_is_read_case_insensitively() -> None:
    assert parse_currency(" kwd ") == "KWD"


@pytest.mark.parametrize(
    ("micros", "currency", "minor", "shown"),
    [
        (12_345_678, "USD", 1234, "12.34"),
        (12_345_678, "JPY", 12, "12"),
        (12_345_678, "KWD", 12345, "12.345"),
        (-1_999_999, "JPY", -1, "-1"),
        (999, "KWD", 0, "0.000"),
    ],
)
def test_amounts_convert_to_and_print_in_the_currency_s_minor_unit(
    micros: int, currency: str, minor: int, shown: str
) -> None:
    assert to_minor_units(micros, currency) == minor
    assert format_micros(micros, currency) == shown
    assert format_minor_units(minor, currency) == shown


def test_payouts_move_whole_minor_units_and_leave_the_remainder() -> None:
    assert whole_minor_units(1_234_567_891, "JPY") == 1_234_000_000
    assert whole_minor_units(1_234_567_891, "KWD") == 1_234_567_000
    assert whole_minor_units(1_234_567_891, "USD") == 1_234_560_000
    assert whole_minor_units(-1, "USD") == 0


@given(st.sampled_from(sorted(MINOR_UNIT_EXPONENTS)), st.integers(0, 10**12))
@settings(max_examples=100, deadline=None)
def test_minor_units_round_trip_through_micros(currency: str, minor: int) -> None:
    micros = from_minor_units(minor, currency)
    assert to_minor_units(micros, currency) == minor
    assert whole_minor_units(micros, currency) == micros


def test_minimums_are_read_in_the_currency_s_own_units() -> None:
    assert parse_major_units("10.00", "USD") == 10_000_000
    assert parse_major_units("1000", "JPY") == 1_000_000_000
    assert parse_major_units("5.125", "KWD") == 5_125_000
    for text, currency in [("1000.5", "JPY"), ("0.001", "USD"), ("1.2345", "KWD"), ("-1", "USD")]:
        with pytest.raises(InvalidInput):
            parse_major_units(text, currency)


def test_the_event_cap_is_documented_and_keeps_sums_far_below_2_63() -> None:
    assert MAX_EVENT_MICROS == 10**15
    assert money.__doc__ is not None and "MAX_EVENT_MICROS" in money.__doc__
    # Thousands of capped amounts, and a capped balance plus a capped posting, still fit.
    assert 9_000 * MAX_EVENT_MICROS < 2**63 - 1
    assert 2 * MAX_ACCOUNT_MICROS < 2**63 - 1
    assert check_event_micros(MAX_EVENT_MICROS) == MAX_EVENT_MICROS
    with pytest.raises(InvalidInput, match="above the cap"):
        check_event_micros(MAX_EVENT_MICROS + 1)
