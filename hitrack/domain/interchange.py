"""The interchange format (DESIGN section 5): one JSON document, graph and events.

Loading is strict on types and enforces every graph rule through
:func:`hitrack.domain.graph.build_graph` (credits and credit pools through
:func:`hitrack.domain.payees.check_credits`) and
:func:`hitrack.domain.credit.validate_event`, so a loaded document is always
settleable. Unknown keys are ignored, so documents from newer versions still
load. Shares are written as exact text (:func:`~hitrack.domain.shares.format_share`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import networkx as nx

from hitrack.domain.credit import ExactEngine, validate_event
from hitrack.domain.errors import InvalidEvent, InvalidInput
from hitrack.domain.graph import Work, build_graph
from hitrack.domain.payees import Credit, PayeePart
from hitrack.domain.settlement import Explanation, RevenueEvent, SettlementEngine
from hitrack.domain.shares import format_share, loads_json, parse_share

__all__ = [
    "Document",
    "parse_work",
    "load_document",
    "loads_document",
    "dump_document",
    "settlement_document",
    "explanation_document",
]


@dataclass
class Document:
    """A loaded interchange document: validated works, events and their graph."""

    currency: str
    works: list[Work]
    events: list[RevenueEvent]
    graph: nx.DiGraph


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string")
    return value


def _micros(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"{what} must be an integer number of micros, got {value!r}")
    return value


def _shares(value: Any, what: str) -> dict[str, Fraction]:
    return {
        _string(key, f"{what} key"): parse_share(share, what=f"{what} {key}")
        for key, share in _object(value, what).items()
    }


def _credits(raw: Any, work_id: str) -> tuple[Credit, ...]:
    if not isinstance(raw, list):
        raise InvalidInput(f"work {work_id}: credits must be a list", ids=(work_id,))
    credits = []
    for position, item in enumerate(raw):
        what = f"work {work_id}: credits[{position}]"
        data = _object(item, what)
        payee = data.get("payee")
        if not isinstance(payee, str) or not payee:
            raise InvalidInput(f"{what}.payee must be a non-empty string", ids=(work_id,))
        role = data.get("role")
        if not isinstance(role, str) or not role:
            raise InvalidInput(f"{what}.role must be a non-empty string", ids=(work_id, payee))
        if "weight" not in data:
            raise InvalidInput(f"{what} has no weight", ids=(work_id, payee))
        weight = parse_share(data["weight"], what=f"work {work_id}: credit weight of {payee}")
        credits.append(Credit(payee, role, weight))
    return tuple(credits)


def parse_work(raw: Any, position: int) -> Work:
    """One element of ``works`` as a :class:`~hitrack.domain.graph.Work` (types checked,
    graph rules not: see :func:`~hitrack.domain.graph.check_work`)."""
    return _work(raw, position)


def _work(raw: Any, position: int) -> Work:
    data = _object(raw, f"works[{position}]")
    work_id = _string(data.get("id"), f"works[{position}].id")
    kind = _string(data.get("kind"), f"work {work_id}: kind")
    consent = _object(data.get("consent", {}), f"work {work_id}: consent")
    flags = {}
    for key, default in (("remix", True), ("ai_training", False)):
        flag = consent.get(key, default)
        if not isinstance(flag, bool):
            raise InvalidInput(
                f"work {work_id}: consent.{key} must be true or false", ids=(work_id,)
            )
        flags[key] = flag
    title = data.get("title", "")
    if not isinstance(title, str):
        raise InvalidInput(f"work {work_id}: title must be a string", ids=(work_id,))
    if "owners" not in data:
        raise InvalidInput(f"work {work_id} has no owners", ids=(work_id,))
    return Work(
        id=work_id,
        kind=kind,
        owners=_shares(data["owners"], f"work {work_id}: owner"),
        sources=_shares(data.get("sources", {}), f"work {work_id}: share of source"),
        attribution_weight=parse_share(
            data.get("attribution_weight", 0), what=f"work {work_id}: attribution_weight"
        ),
        consent_remix=flags["remix"],
        consent_ai_training=flags["ai_training"],
        title=title,
        credits=_credits(data.get("credits", []), work_id),
        credit_pool=parse_share(data.get("credit_pool", 0), what=f"work {work_id}: credit_pool"),
    )


def _event(raw: Any, position: int) -> RevenueEvent:
    data = _object(raw, f"events[{position}]")
    event_id = _string(data.get("id"), f"events[{position}].id")
    attribution = data.get("attribution")
    return RevenueEvent(
        id=event_id,
        work=_string(data.get("work"), f"event {event_id}: work"),
        amount=_micros(data.get("amount"), f"event {event_id}: amount"),
        costs=_micros(data.get("costs", 0), f"event {event_id}: costs"),
        fee_rate=parse_share(data.get("fee_rate", 0), what=f"event {event_id}: fee_rate"),
        attribution=None
        if attribution is None
        else _shares(attribution, f"event {event_id}: attribution of"),
    )


def load_document(data: Mapping[str, Any], *, min_credit_pool: Fraction = Fraction(0)) -> Document:
    """Validate an interchange document (already parsed) and build its graph.

    ``min_credit_pool`` is the least credit pool of a work with credits (the
    platform passes ``HITRACK_MIN_CREDIT_POOL``).

    Raises
    ------
    HitrackError
        The first problem found, naming the offending id.

    Examples
    --------
    >>> doc = load_document({"currency": "USD",
    ...     "works": [{"id": "r1", "kind": "record", "owners": {"alice": "1"}}],
    ...     "events": [{"id": "e1", "work": "r1", "amount": 5}]})
    >>> doc.events[0].amount, sorted(doc.graph)
    (5, ['r1'])
    """
    data = _object(data, "the document")
    currency = _string(data.get("currency"), "currency")
    raw_works = data.get("works")
    if not isinstance(raw_works, list):
        raise InvalidInput("works must be a list")
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list):
        raise InvalidInput("events must be a list")
    works = [_work(raw, i) for i, raw in enumerate(raw_works)]
    graph = build_graph(works, min_credit_pool=min_credit_pool)
    events = [_event(raw, i) for i, raw in enumerate(raw_events)]
    seen: set[str] = set()
    for event in events:
        if event.id in seen:
            raise InvalidEvent(f"duplicate event id {event.id}", ids=(event.id,))
        seen.add(event.id)
        validate_event(graph, event)
    return Document(currency=currency, works=works, events=events, graph=graph)


def loads_document(text: str, *, min_credit_pool: Fraction = Fraction(0)) -> Document:
    """Parse and validate an interchange document from JSON text.

    Examples
    --------
    >>> loads_document('{"currency": "EUR", "works": []}').currency
    'EUR'
    """
    return load_document(loads_json(text), min_credit_pool=min_credit_pool)


def dump_document(
    currency: str, works: Iterable[Work], events: Iterable[RevenueEvent] = ()
) -> dict[str, Any]:
    """The interchange document of some works and events (JSON-ready).

    Examples
    --------
    >>> dump_document("USD", [Work("r1", "record", {"a": Fraction(1, 3), "b": Fraction(2, 3)})])
    {'currency': 'USD', 'works': [{'id': 'r1', 'kind': 'record', 'owners': {'a': '1/3', 'b': '2/3'}, 'consent': {'remix': True, 'ai_training': False}}], 'events': []}
    """
    out_works = []
    for work in works:
        item: dict[str, Any] = {
            "id": work.id,
            "kind": work.kind,
            "owners": {c: format_share(f) for c, f in sorted(work.owners.items())},
        }
        if work.sources:
            item["sources"] = {s: format_share(f) for s, f in sorted(work.sources.items())}
        if work.attribution_weight:
            item["attribution_weight"] = format_share(work.attribution_weight)
        if work.kind == "record" or not work.consent_remix or work.consent_ai_training:
            item["consent"] = {"remix": work.consent_remix, "ai_training": work.consent_ai_training}
        if work.title:
            item["title"] = work.title
        if work.credits:
            item["credits"] = [
                {"payee": c.payee, "role": c.role, "weight": format_share(c.weight)}
                for c in work.credits
            ]
        if work.credit_pool:
            item["credit_pool"] = format_share(work.credit_pool)
        out_works.append(item)
    out_events = []
    for event in events:
        raw: dict[str, Any] = {"id": event.id, "work": event.work, "amount": event.amount}
        if event.costs:
            raw["costs"] = event.costs
        if event.fee_rate:
            raw["fee_rate"] = format_share(event.fee_rate)
        if event.attribution is not None:
            raw["attribution"] = {k: format_share(v) for k, v in sorted(event.attribution.items())}
        out_events.append(raw)
    return {"currency": currency, "works": out_works, "events": out_events}


def _part_document(part: PayeePart) -> dict[str, Any]:
    if part.role is None:
        out: dict[str, Any] = {"as": "owner", "share": format_share(part.share)}
    else:
        out = {"as": "credit", "role": part.role, "share": format_share(part.share)}
    if part.credit_pool:
        out["credit_pool"] = format_share(part.credit_pool)
    return out


def explanation_document(explanations: Sequence[Explanation]) -> list[dict[str, Any]]:
    """Explanations as JSON: exact values as share text, paths as hop lists."""
    out = []
    for item in explanations:
        out.append(
            {
                "work": item.work,
                "value": format_share(item.value),
                "retained": format_share(item.retained),
                "ownership": format_share(item.ownership),
                "amount": format_share(item.amount),
                "paths": [
                    {
                        "steps": [
                            {"work": s.work, "source": s.source, "share": format_share(s.share)}
                            for s in route.steps
                        ],
                        "value": format_share(route.value),
                        "amount": format_share(route.amount),
                    }
                    for route in item.routes
                ],
                "more_paths": item.more_routes,
                "parts": [_part_document(part) for part in item.parts],
            }
        )
    return out


def _add(totals: dict[str, int], parts: Mapping[str, int]) -> None:
    for creator, micros in parts.items():
        totals[creator] = totals.get(creator, 0) + micros


def settlement_document(
    doc: Document,
    *,
    batch: bool = False,
    explain: str | None = None,
    engine: SettlementEngine | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The output document of ``hitrack settle`` (DESIGN section 5).

    ``engine`` settles (the exact engine over ``doc.graph`` by default);
    ``explain=CREATOR`` adds that creator's explanations per event;
    ``progress(done, total)`` is called as events are settled.

    Examples
    --------
    >>> doc = load_document({"currency": "USD",
    ...     "works": [{"id": "r1", "kind": "record", "owners": {"alice": "1"}}],
    ...     "events": [{"id": "e1", "work": "r1", "amount": 5}]})
    >>> settlement_document(doc)["totals"]
    {'alice': 5}
    """
    engine = engine or ExactEngine(doc.graph)
    if explain is not None and not any(
        explain in w.owners or any(c.payee == explain for c in w.credits) for w in doc.works
    ):
        raise InvalidInput(
            f"unknown creator {explain}: owns no work and holds no credit in this document",
            ids=(explain,),
        )
    totals: dict[str, int] = {}
    result: dict[str, Any] = {"currency": doc.currency}
    if batch:
        settled = engine.settle_batch(doc.events)
        result["batch"] = {
            "events": settled.events,
            "amount": settled.amount,
            "fee": settled.fee,
            "recouped": dict(sorted(settled.recouped.items())),
            "distributable": settled.distributable,
            "creators": dict(sorted(settled.creators.items())),
        }
        _add(totals, settled.creators)
        _add(totals, settled.recouped)
    else:
        events = []
        for done, event in enumerate(doc.events, 1):
            one = engine.settle_event(event)
            events.append(
                {
                    "id": one.event_id,
                    "amount": one.amount,
                    "recouped": dict(sorted(one.recouped.items())),
                    "fee": one.fee,
                    "distributable": one.distributable,
                    "creators": dict(sorted(one.creators.items())),
                }
            )
            _add(totals, one.creators)
            _add(totals, one.recouped)
            if progress is not None:
                progress(done, len(doc.events))
        result["events"] = events
    if explain is not None:
        explained = []
        for event in doc.events:
            one = engine.settle_event(event)
            explained.append(
                {
                    "event": event.id,
                    "creator": explain,
                    "micros": one.creators.get(explain, 0),
                    "works": explanation_document(one.explain(explain)),
                }
            )
        result["explanations"] = explained
    result["totals"] = dict(sorted(totals.items()))
    return result
