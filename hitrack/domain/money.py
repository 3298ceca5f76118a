"""Money as integers: micro-units, the one allocation rule, currencies, caps and printing.

All money in hitrack is an integer number of micro-units of one currency
(1 USD = 1,000,000 micros; 1 JPY = 1,000,000 micros too). Floats never hold
money: an amount split along the graph is first an exact
:class:`~fractions.Fraction` entitlement per creator, then :func:`allocate`
turns the entitlements into integers that sum exactly to the total (largest
remainder, ties by key). Every split of money in hitrack goes through that one
function, so no two places can round differently.

Currencies
----------
Money leaves and enters hitrack in a currency's **minor unit** (ISO 4217): a
cent for USD (2 decimals), a yen for JPY (0 decimals), a fils for KWD (3
decimals). :data:`MINOR_UNIT_EXPONENTS` is the one table of those exponents;
payouts, provider transfers, checkout amounts, payout minimums and printing
all read it (:func:`micros_per_minor_unit`, :func:`to_minor_units`,
:func:`from_minor_units`, :func:`whole_minor_units`, :func:`format_micros`).
A currency that is not in the table is refused at input
(:func:`parse_currency`), never guessed.

Caps
----
Amounts are stored in 64-bit integer columns (BIGINT, at most
``2**63 - 1`` about 9.22e18 micros). Two caps keep every stored amount and every
account's balance far below that, so no sum hitrack stores or reads overflows:

* :data:`MAX_EVENT_MICROS` bounds one revenue event's amount and costs;
* :data:`MAX_ACCOUNT_MICROS` bounds any ledger account's balance (and any
  single posting); the ledger refuses a transaction that would exceed it.

Totals over many accounts (a currency's sum, the platform's totals per kind)
are summed as Python integers or SQL NUMERIC, never as BIGINT.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

from hitrack.domain.errors import InvalidInput

__all__ = [
    "MICROS_PER_UNIT",
    "MAX_EVENT_MICROS",
    "MAX_ACCOUNT_MICROS",
    "MINOR_UNIT_EXPONENTS",
    "allocate",
    "beyond_account_cap",
    "check_event_micros",
    "format_micros",
    "format_micros_exact",
    "format_minor_units",
    "from_minor_units",
    "micros_per_minor_unit",
    "minor_unit_exponent",
    "parse_currency",
    "parse_major_units",
    "to_minor_units",
    "whole_minor_units",
]

MICROS_PER_UNIT = 1_000_000

MAX_EVENT_MICROS = 10**15
"""The largest amount (and costs) of one revenue event: 10^15 micros, 10^9 currency units.

Why this number: a billion dollars (or yen, or dinars) is beyond any single
sale or model-usage report the platform expects, so a real event never meets
it, while an event that does is a typo or an attack. And it keeps sums safe:
a BIGINT holds 2^63 - 1 about 9.22 * 10^18 micros, so more than 9,000 events at
the cap still add up without overflowing, and an account reaches
:data:`MAX_ACCOUNT_MICROS` only after a thousand of them.
"""

MAX_ACCOUNT_MICROS = 10**18
"""The largest balance (either sign) of any ledger account, and of any one posting.

10^18 micros is 10^12 currency units: a trillion dollars through the
platform's cash account is far beyond its business, and a creator's payable
never comes near it honestly. It leaves 8 * 10^18 of headroom below the
BIGINT limit, so a balance at the cap plus any posting at the cap (each
checked) still fits, and two concurrent writers that both pass the check on
PostgreSQL overshoot it by at most the postings in flight, never into
overflow. :func:`hitrack.services.ledger.post_transaction` refuses a
transaction that would take an account beyond it and writes nothing.
"""

# ISO 4217 minor-unit exponents of the currencies hitrack handles.
#
# Left out on purpose: MGA (ISO 2, but its minor unit is a fifth and Stripe
# treats it as 0), ISK and UGX (ISO 0, but Stripe represents them with two
# decimals), and the 4-decimal units of account CLF and UYW. Each would need a
# provider-specific conversion; refusing them is safer than paying 100x.
_EXPONENTS: dict[str, int] = {
    code: exponent
    for exponent, codes in (
        (
            0,
            "BIF CLP DJF GNF JPY KMF KRW PYG RWF VND VUV XAF XOF XPF",
        ),
        (
            2,
            "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL "
            "BSD BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CVE CZK DKK DOP DZD EGP ERN "
            "ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR "
            "JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MRU "
            "MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN "
            "QAR RON RSD RUB SAR SBD SCR SEK SGD SHP SLE SOS SRD STN SZL THB TJS TMT "
            "TOP TRY TTD TWD TZS UAH USD UYU UZS WST XCD YER ZAR ZMW",
        ),
        (3, "BHD IQD JOD KWD LYD OMR TND"),
    )
    for code in codes.split()
}

MINOR_UNIT_EXPONENTS: Mapping[str, int] = MappingProxyType(dict(sorted(_EXPONENTS.items())))
"""ISO 4217 code -> decimals of its minor unit (USD 2, JPY 0, KWD 3, ...): the one table."""

_CODE = re.compile(r"^[A-Za-z]{3}$")
_MAJOR = re.compile(r"^(\d+)(?:\.(\d+))?$")


def allocate(total: int, entitlements: Mapping[str, Fraction]) -> dict[str, int]:
    """Turn exact entitlements into integer micros that sum exactly to ``total``.

    Each key gets the floor of its entitlement; the micros left over go one
    each to the keys with the largest fractional parts, ties broken by key
    ascending (string order).

    Parameters
    ----------
    total : int
        The integer amount being split.
    entitlements : Mapping[str, Fraction]
        Non-negative exact entitlements summing exactly to ``total``.

    Returns
    -------
    dict[str, int]
        Every key given, zeros included (callers drop them if they wish).

    Raises
    ------
    InvalidInput
        If an entitlement is negative or the entitlements do not sum to ``total``.

    Examples
    --------
    >>> allocate(10, {"a": Fraction(10, 3), "b": Fraction(10, 3), "c": Fraction(10, 3)})
    {'a': 4, 'b': 3, 'c': 3}
    """
    if any(value < 0 for value in entitlements.values()):
        raise InvalidInput("an entitlement is negative")
    if sum(entitlements.values(), Fraction(0)) != total:
        raise InvalidInput(f"entitlements do not sum to the total {total}")
    floors = {key: value.numerator // value.denominator for key, value in entitlements.items()}
    remaining = total - sum(floors.values())
    if remaining:
        by_remainder = sorted(
            entitlements, key=lambda key: (-(entitlements[key] - floors[key]), key)
        )
        for key in by_remainder[:remaining]:
            floors[key] += 1
    return floors


# --- caps -------------------------------------------------------------------------


def check_event_micros(value: int, name: str = "amount") -> int:
    """``value`` if it is a whole number of micros in ``[0, MAX_EVENT_MICROS]``; else InvalidInput.

    Examples
    --------
    >>> check_event_micros(10**15)
    1000000000000000
    >>> check_event_micros(2**63 - 1)
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidInput: amount: 9223372036854775807 micros is above the cap of 1000000000000000 micros (10^9 currency units) per event
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name}: expected an integer number of micros, got {value!r}")
    if value < 0:
        raise InvalidInput(f"{name}: {value} is negative")
    if value > MAX_EVENT_MICROS:
        raise InvalidInput(
            f"{name}: {value} micros is above the cap of {MAX_EVENT_MICROS} micros "
            "(10^9 currency units) per event"
        )
    return value


def beyond_account_cap(balances: Mapping[str, int]) -> list[str]:
    """One line per account whose balance (either sign) is above :data:`MAX_ACCOUNT_MICROS`.

    Examples
    --------
    >>> beyond_account_cap({"platform:cash:USD": 10**18, "creator:7:payable:USD": -(10**18) - 1})
    ['creator:7:payable:USD: balance -1000000000000000001 micros is beyond the account cap of 1000000000000000000']
    """
    return [
        f"{code}: balance {value} micros is beyond the account cap of {MAX_ACCOUNT_MICROS}"
        for code, value in sorted(balances.items())
        if abs(value) > MAX_ACCOUNT_MICROS
    ]


# --- currencies -------------------------------------------------------------------


def parse_currency(value: object, name: str = "currency") -> str:
    """The ISO 4217 code in ``value``, upper-cased; InvalidInput unless the table knows it.

    Examples
    --------
    >>> parse_currency(" jpy ")
    'JPY'
    >>> parse_currency("XYZ")
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidInput: currency: XYZ is not a currency hitrack handles (an ISO 4217 code such as USD, EUR, JPY or KWD)
    """
    if not isinstance(value, str) or not _CODE.match(value.strip()):
        raise InvalidInput(f"{name}: a 3-letter ISO 4217 code such as USD")
    code = value.strip().upper()
    if code not in MINOR_UNIT_EXPONENTS:
        raise InvalidInput(
            f"{name}: {code} is not a currency hitrack handles "
            "(an ISO 4217 code such as USD, EUR, JPY or KWD)",
            ids=(code,),
        )
    return code


def minor_unit_exponent(currency: str) -> int:
    """Decimals of ``currency``'s minor unit (case-insensitive); InvalidInput if unknown.

    Examples
    --------
    >>> minor_unit_exponent("USD"), minor_unit_exponent("jpy"), minor_unit_exponent("KWD")
    (2, 0, 3)
    """
    return MINOR_UNIT_EXPONENTS[parse_currency(currency)]


def micros_per_minor_unit(currency: str) -> int:
    """How many micros one minor unit of ``currency`` is.

    Examples
    --------
    >>> micros_per_minor_unit("USD"), micros_per_minor_unit("JPY"), micros_per_minor_unit("KWD")
    (10000, 1000000, 1000)
    """
    step: int = 10 ** (6 - minor_unit_exponent(currency))
    return step


def to_minor_units(micros: int, currency: str) -> int:
    """Whole minor units of ``currency`` in ``micros``, truncated toward zero.

    Examples
    --------
    >>> to_minor_units(12_345_678, "USD"), to_minor_units(12_345_678, "JPY")
    (1234, 12)
    >>> to_minor_units(12_345_678, "KWD"), to_minor_units(-15_000, "USD")
    (12345, -1)
    """
    step = micros_per_minor_unit(currency)
    units = abs(micros) // step
    return -units if micros < 0 else units


def from_minor_units(amount: int, currency: str) -> int:
    """Micros in ``amount`` minor units of ``currency`` (as a provider sends them).

    Examples
    --------
    >>> from_minor_units(1999, "USD"), from_minor_units(1999, "JPY"), from_minor_units(1999, "KWD")
    (19990000, 1999000000, 1999000)
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(f"an amount in minor units must be an integer, got {amount!r}")
    return amount * micros_per_minor_unit(currency)


def whole_minor_units(micros: int, currency: str) -> int:
    """The largest whole number of minor units in ``micros``, in micros (0 for nothing owed).

    What a payout moves: the sub-minor-unit remainder stays in the balance.

    Examples
    --------
    >>> whole_minor_units(12_345_678, "USD"), whole_minor_units(12_345_678, "JPY")
    (12340000, 12000000)
    >>> whole_minor_units(12_345_678, "KWD"), whole_minor_units(-5, "USD")
    (12345000, 0)
    """
    if micros <= 0:
        return 0
    return micros - micros % micros_per_minor_unit(currency)


def parse_major_units(text: str, currency: str, name: str = "amount") -> int:
    """Micros in a decimal amount written in ``currency``'s major units (``"10.00"`` USD).

    More decimals than the currency has are refused (``"1000.5"`` yen is no
    amount a bank can move); so is anything that is not a plain non-negative
    decimal.

    Examples
    --------
    >>> parse_major_units("10.50", "USD"), parse_major_units("1000", "JPY")
    (10500000, 1000000000)
    >>> parse_major_units("5.125", "KWD")
    5125000
    >>> parse_major_units("1000.5", "JPY")
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidInput: amount: 1000.5 has more decimals than JPY has (0)
    """
    exponent = minor_unit_exponent(currency)
    match = _MAJOR.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(f"{name}: expected a decimal amount like 10.00, got {text!r}")
    whole, fraction = match.group(1), (match.group(2) or "").rstrip("0")
    if len(fraction) > exponent:
        raise InvalidInput(
            f"{name}: {text.strip()} has more decimals than {currency.upper()} has ({exponent})"
        )
    micros = int(whole) * MICROS_PER_UNIT + int(fraction.ljust(6, "0") or "0")
    if micros > MAX_ACCOUNT_MICROS:
        raise InvalidInput(f"{name}: {text.strip()} is too large")
    return micros


# --- printing ---------------------------------------------------------------------


def format_minor_units(amount: int, currency: str) -> str:
    """``amount`` minor units of ``currency`` in major units, from integers only.

    Examples
    --------
    >>> format_minor_units(1234, "usd"), format_minor_units(1234, "JPY"), format_minor_units(-1234, "KWD")
    ('12.34', '1234', '-1.234')
    """
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def format_micros(micros: int, currency: str = "USD") -> str:
    """Print an amount to ``currency``'s minor unit, truncating toward zero.

    The part below the minor unit is not shown (see :func:`format_micros_exact`).
    A currency the table does not know (a row stored before currencies were
    checked) is printed exactly rather than guessed, so a page never breaks.

    Examples
    --------
    >>> format_micros(12_345_678), format_micros(-5_000)
    ('12.34', '0.00')
    >>> format_micros(12_345_678, "JPY"), format_micros(12_345_678, "KWD")
    ('12', '12.345')
    >>> format_micros(12_345_678, "XYZ")
    '12.345678'
    """
    if not isinstance(currency, str) or currency.strip().upper() not in MINOR_UNIT_EXPONENTS:
        return format_micros_exact(micros)
    return format_minor_units(to_minor_units(micros, currency), currency)


def format_micros_exact(micros: int) -> str:
    """Print an amount with all six decimals, so sub-minor-unit amounts are visible.

    Examples
    --------
    >>> format_micros_exact(12_345_678), format_micros_exact(-5)
    ('12.345678', '-0.000005')
    """
    sign = "-" if micros < 0 else ""
    whole, part = divmod(abs(micros), MICROS_PER_UNIT)
    return f"{sign}{whole}.{part:06d}"
