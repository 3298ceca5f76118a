"""Ledger rules over plain data: balance per currency, hashes, invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitrack.domain.errors import InvalidInput, LedgerImbalance
from hitrack.domain.ledger import (
    EventRecord,
    Posting,
    canonical_json,
    check_balanced,
    check_currency_totals,
    check_event,
    check_owed_balances,
    merge_postings,
    transaction_hash,
)

CASH, FEES, ANA, BO = (
    "platform:cash:USD",
    "platform:fees:USD",
    "creator:1:payable:USD",
    "creator:2:payable:USD",
)


def test_balanced_postings_are_merged_per_account() -> None:
    merged = check_balanced(
        [
            Posting(CASH, "USD", 100),
            Posting(ANA, "USD", -60),
            Posting(ANA, "USD", -30),
            Posting(FEES, "USD", -10),
        ]
    )
    assert merged == [
        Posting(ANA, "USD", -90),
        Posting(CASH, "USD", 100),
        Posting(FEES, "USD", -10),
    ]


def test_postings_that_do_not_sum_to_zero_are_refused_naming_the_currency() -> None:
    with pytest.raises(LedgerImbalance, match="EUR off by 1"):
        check_balanced(
            [
                Posting(CASH, "USD", 5),
                Posting(ANA, "USD", -5),
                Posting("platform:cash:EUR", "EUR", 1),
            ]
        )


def test_each_currency_must_balance_on_its_own() -> None:
    with pytest.raises(LedgerImbalance):
        check_balanced([Posting(CASH, "USD", 5), Posting("platform:fees:EUR", "EUR", -5)])


@pytest.mark.parametrize(
    "posting",
    [
        Posting(CASH, "USD", 1.0),  # type: ignore[arg-type]
        Posting(CASH, "USD", True),  # type: ignore[arg-type]
        Posting(CASH, "usd", 0),
        Posting("", "USD", 0),
    ],
)
def test_malformed_postings_are_refused(posting: Posting) -> None:
    with pytest.raises(InvalidInput):
        check_balanced([posting])


def test_the_hash_ignores_order_and_splitting_but_not_amounts_or_kind() -> None:
    a = [Posting(CASH, "USD", 10), Posting(ANA, "USD", -10)]
    b = [Posting(ANA, "USD", -4), Posting(CASH, "USD", 10), Posting(ANA, "USD", -6)]
    assert transaction_hash("revenue", a) == transaction_hash("revenue", b)
    assert transaction_hash("revenue", a) != transaction_hash("payout_hold", a)
    assert transaction_hash("revenue", a) != transaction_hash(
        "revenue", [Posting(CASH, "USD", 11), Posting(ANA, "USD", -11)]
    )


def test_canonical_json_is_stable() -> None:
    assert (
        canonical_json({"b": [1, {"d": 2, "c": 3}], "a": "é"})
        == '{"a":"\\u00e9","b":[1,{"c":3,"d":2}]}'
    )


@given(
    st.lists(
        st.tuples(st.sampled_from([CASH, FEES, ANA, BO]), st.integers(-(10**15), 10**15)),
        max_size=12,
    )
)
def test_merging_keeps_each_accounts_total(lines: list[tuple[str, int]]) -> None:
    merged = merge_postings(Posting(a, "USD", m) for a, m in lines)
    for account in {a for a, _ in lines}:
        expected = sum(m for a, m in lines if a == account)
        assert sum(p.amount for p in merged if p.account == account) == expected
    assert all(p.amount for p in merged)


def test_invariants_report_unbalanced_currencies_and_negative_payables() -> None:
    assert check_currency_totals({"USD": 0}) == []
    assert check_currency_totals({"USD": -2}) == ["USD: postings sum to -2, not 0"]
    assert check_owed_balances({ANA: -10, BO: 0}) == []
    assert check_owed_balances({BO: 1}) == [
        f"{BO}: owes the platform 1 micros (a payable must not be negative)"
    ]


def _event(**changes: object) -> EventRecord:
    fields: dict[str, object] = dict(
        ref="e1",
        currency="USD",
        amount=1000,
        fee=90,
        recouped=100,
        distributable=810,
        allocations=[(ANA, "recoup", 100), (ANA, "earning", 567), (BO, "earning", 243)],
        cash_account=CASH,
        fee_account=FEES,
        postings=[
            Posting(CASH, "USD", 1000),
            Posting(FEES, "USD", -90),
            Posting(ANA, "USD", -667),
            Posting(BO, "USD", -243),
        ],
    )
    fields.update(changes)
    return EventRecord(**fields)  # type: ignore[arg-type]


def test_a_settled_event_whose_parts_sum_to_its_amount_has_no_breach() -> None:
    assert check_event(_event()) == []


def test_an_event_whose_allocations_lose_a_micro_is_a_breach() -> None:
    breaches = check_event(
        _event(allocations=[(ANA, "recoup", 100), (ANA, "earning", 567), (BO, "earning", 242)])
    )
    assert any("not the amount 1000" in b for b in breaches)
    assert any("does not match its allocations" in b for b in breaches)


def test_an_event_whose_transaction_pays_the_wrong_creator_is_a_breach() -> None:
    postings = [Posting(CASH, "USD", 1000), Posting(FEES, "USD", -90), Posting(BO, "USD", -910)]
    assert check_event(_event(postings=postings)) == [
        "event e1: its ledger transaction does not match its allocations"
    ]
