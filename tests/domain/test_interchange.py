import copy
import json

import pytest

from hitrack.domain.errors import (
    CycleError,
    InvalidCitation,
    InvalidEvent,
    InvalidInput,
    InvalidShare,
    UnknownWork,
)
from hitrack.domain.interchange import (
    dump_document,
    load_document,
    loads_document,
    settlement_document,
)
from tests.factories import DESIGN_DOCUMENT


def test_a_document_round_trips_through_load_and_dump():
    doc = load_document(DESIGN_DOCUMENT)
    dumped = dump_document(doc.currency, doc.works, doc.events)
    again = loads_document(json.dumps(dumped))
    assert (again.currency, again.works, again.events) == (doc.currency, doc.works, doc.events)
    assert dumped["works"][0]["consent"] == {"remix": True, "ai_training": False}


def test_json_numbers_and_titles_and_consent_are_read():
    text = (
        '{"currency": "USD", "works": [{"id": "r1", "kind": "record", "owners": {"a": 1},'
        ' "title": "Shoreline", "consent": {"remix": false, "ai_training": true},'
        ' "future_field": 1}, {"id": "r2", "kind": "record", "owners": {"b": "1"},'
        ' "sources": {"r1": 0.25}}]}'
    )
    doc = loads_document(text)
    assert doc.works[0].title == "Shoreline" and doc.works[0].consent_ai_training
    assert str(doc.graph["r2"]["r1"]["share"]) == "1/4"


def broken(path, value):
    data = copy.deepcopy(DESIGN_DOCUMENT)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (broken(("events", 0, "work"), "ghost"), UnknownWork, "e1: unknown work ghost"),
        (broken(("works", 0, "sources"), {"p1": "0.1"}), CycleError, "cycle"),
        (broken(("works", 2, "sources"), {"r1": "0.5", "r2": "0.6"}), InvalidCitation, "p1"),
        (broken(("events", 1, "attribution"), {"p1": "1"}), InvalidEvent, "e2.*p1"),
        (broken(("events", 0, "amount"), -5), InvalidEvent, "e1"),
        (broken(("events", 0, "amount"), 1.5), InvalidEvent, "e1: amount"),
        (broken(("works", 1, "owners"), {"bob": 0.5}), InvalidShare, "r2"),
        (broken(("works", 0, "consent"), {"remix": "yes"}), InvalidInput, "r1"),
        (broken(("currency",), 5), InvalidInput, "currency"),
    ],
)
def test_bad_documents_are_rejected_naming_the_offending_id(data, error, match):
    with pytest.raises(error, match=match):
        load_document(data)


def test_settlement_document_has_the_design_shape():
    out = settlement_document(load_document(DESIGN_DOCUMENT))
    assert out["events"][0] == {
        "id": "e1",
        "amount": 1000000,
        "recouped": {"dana": 100000},
        "fee": 90000,
        "distributable": 810000,
        "creators": {"alice": 437400, "bob": 145800, "carol": 145800, "dana": 81000},
    }
    assert out["totals"] == {
        "alice": 534275,
        "bob": 159863,
        "carol": 159862,
        "dana": 181000,
        "lab": 125000,
    }


def test_batch_settlement_document_has_totals_and_explanations_on_request():
    out = settlement_document(load_document(DESIGN_DOCUMENT), batch=True, explain="bob")
    assert out["batch"]["events"] == 2 and out["batch"]["creators"]["bob"] == 159863
    assert [e["event"] for e in out["explanations"]] == ["e1", "e2"]
    assert out["explanations"][0]["works"][0]["work"] == "r2"
    with pytest.raises(InvalidInput, match="nobody"):
        settlement_document(load_document(DESIGN_DOCUMENT), explain="nobody")
