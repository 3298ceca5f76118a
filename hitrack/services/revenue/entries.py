"""A revenue event's fields as sent: validated into exact values, or refused with a reason.

One parser for every door (the API, a CSV row, a Stripe sale): amounts are
integer micros within the per-event cap, shares are Fractions, an attribution
is a vector of non-negative scores. :meth:`RevenueInput.payload` is what makes
two requests "the same event" for idempotency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hitrack.domain import credit
from hitrack.domain.errors import InvalidInput
from hitrack.domain.ledger import payload_hash
from hitrack.domain.money import check_event_micros, parse_currency
from hitrack.domain.shares import format_share, loads_json, parse_share

__all__ = ["RevenueInput", "parse_revenue", "engine_event", "ORIGINS"]

_DIGITS = re.compile(r"^[+-]?\d+$")


ORIGINS = ("api", "csv", "stripe")


@dataclass(frozen=True)
class RevenueInput:
    """A revenue event's fields, validated and exact."""

    external_id: str
    work: str
    amount: int
    currency: str
    costs: int
    fee_rate: Fraction
    attribution: dict[str, Fraction] | None
    output: str | None = None  # an attributed output; check_sender turns it into `attribution`

    def payload(self) -> dict[str, object]:
        """What makes two requests "the same event" (the hash covers exactly this)."""
        return {
            **({"output": self.output} if self.output is not None else {}),
            "work": self.work,
            "amount": self.amount,
            "currency": self.currency,
            "costs": self.costs,
            "fee_rate": format_share(self.fee_rate),
            "attribution": None
            if self.attribution is None or self.output is not None
            else {k: format_share(v) for k, v in sorted(self.attribution.items())},
        }

    def payload_hash(self) -> str:
        return payload_hash(self.payload())


def _micros(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: expected an integer number of micros")
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(
            f"{name}: expected an integer number of micros (1 USD = 1000000), got {value!r}"
        )
    return check_event_micros(value, name)  # the one cap per event (hitrack.domain.money)


def parse_revenue(data: Mapping[str, Any], *, default_fee_rate: Fraction) -> RevenueInput:
    """Validate the fields of a revenue event (as sent to the API or read from a CSV row).

    ``fee_rate`` defaults to ``default_fee_rate`` (a setting, passed as a plain value).
    """
    unknown = set(data) - {
        "external_id",
        "work",
        "amount",
        "currency",
        "costs",
        "fee_rate",
        "attribution",
        "output",
    }
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    external_id = data.get("external_id")
    if (
        not isinstance(external_id, str)
        or not external_id.strip()
        or len(external_id.strip()) > 200
    ):
        raise InvalidInput("external_id: required, 1 to 200 characters")
    work = data.get("work")
    if not isinstance(work, str) or not work.strip():
        raise InvalidInput("work: required, a work id")
    if "amount" not in data or data["amount"] in (None, ""):
        raise InvalidInput("amount: required, an integer number of micros")
    amount = _micros(data["amount"], "amount")
    costs = _micros(data.get("costs") if data.get("costs") not in (None, "") else 0, "costs")
    currency = parse_currency(data.get("currency"))  # the ISO 4217 table refuses unknown codes
    raw_fee = data.get("fee_rate")
    fee_rate = default_fee_rate if raw_fee in (None, "") else parse_share(raw_fee, what="fee_rate")
    if not 0 <= fee_rate <= 1:
        raise InvalidInput(f"fee_rate: {format_share(fee_rate)} is outside [0, 1]")
    attribution = _attribution(data.get("attribution"))
    output = data.get("output") or None
    if output is not None and (attribution is not None or not isinstance(output, str)):
        raise InvalidInput("output: an output id, instead of (not with) an inline attribution")
    return RevenueInput(
        external_id.strip(),
        work.strip(),
        amount,
        currency.strip().upper(),
        costs,
        fee_rate,
        attribution,
        output.strip() if output else None,
    )


def _attribution(raw: object) -> dict[str, Fraction] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        raw = loads_json(raw)
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput("attribution: expected an object of work id -> score")
    result: dict[str, Fraction] = {}
    for key, score in raw.items():
        if not isinstance(key, str):
            raise InvalidInput("attribution: keys are work ids")
        value = parse_share(score, what=f"attribution score of {key}")
        if value < 0:
            raise InvalidInput(f"attribution score of {key} is negative", ids=(key,))
        result[key] = value
    if sum(result.values(), Fraction(0)) <= 0:
        raise InvalidInput("attribution: the scores sum to 0")
    return result


def engine_event(entry: RevenueInput) -> credit.RevenueEvent:
    return credit.RevenueEvent(
        entry.external_id,
        entry.work,
        entry.amount,
        entry.costs,
        entry.fee_rate,
        entry.attribution,
    )
