"""Each settled event pays creators exactly what ``hitrack settle`` computes on the exported graph."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from hitrack.cli import main
from hitrack.services import graph, ledger, revenue
from tests.factories import make_song, usd

EVENTS = [
    ("night_swim", {"amount": usd(100), "costs": usd(10), "fee_rate": "0.1"}),
    ("night_swim", {"amount": 7, "fee_rate": "1/3"}),
    ("night_swim", {"amount": usd(3), "costs": usd(5)}),
    ("model", {"amount": usd(16) + 1, "attribution": {"shoreline": "3", "sketch": "1"}}),
    ("model", {"amount": 999_999, "fee_rate": "0.15"}),
    ("tide", {"amount": 1_234_567}),
    ("sketch", {"amount": 3, "costs": 1}),
]


@pytest.mark.parametrize(
    "work, fields", EVENTS, ids=[f"{w}-{i}" for i, (w, _) in enumerate(EVENTS)]
)
def test_a_settled_event_matches_hitrack_settle(
    db: Session, work: str, fields: dict[str, object]
) -> None:
    song = make_song(db)
    target = getattr(song, work)
    payload: dict[str, object] = {
        "external_id": "e1",
        "work": target.public_id,
        "currency": "USD",
        **fields,
    }
    if "attribution" in fields:
        payload["attribution"] = {
            getattr(song, k).public_id: v for k, v in fields["attribution"].items()
        }  # type: ignore[attr-defined]
    event, _ = revenue.record_revenue(db, song.admin, payload, default_fee_rate=Fraction(0))

    document = graph.export_all(db)
    document["events"] = [
        {
            "id": "e1",
            **{
                k: v
                for k, v in payload.items()
                if k in ("work", "amount", "costs", "fee_rate", "attribution")
            },
        }
    ]
    result = CliRunner().invoke(main, ["settle", "-"], input=json.dumps(document))
    assert result.exit_code == 0, result.output
    [settled] = json.loads(result.stdout)["events"]

    handles = {a.creator_id: a.creator.handle for a in event.allocations}
    earned = {
        handles[a.creator_id]: a.amount
        for a in event.allocations
        if a.kind == "earning" and a.amount
    }
    recouped = {handles[a.creator_id]: a.amount for a in event.allocations if a.kind == "recoup"}
    assert earned == settled["creators"]
    assert recouped == settled["recouped"]
    assert (event.fee, event.distributable) == (settled["fee"], settled["distributable"])
    assert event.recouped + event.fee + sum(earned.values()) == event.amount
    assert ledger.check_invariants(db) == []
