"""The exact settlement engine: who is owed what for a revenue event.

This is the reference implementation of DESIGN section 3, over a
:class:`networkx.DiGraph` built by :func:`hitrack.domain.graph.build_graph`,
in exact rational arithmetic. For an event at work ``v``:

1. ``recouped = min(costs, amount)`` goes back to ``v``'s owners;
2. ``fee = floor((amount - recouped) * fee_rate)`` goes to the platform;
3. the rest, ``distributable``, enters the graph at ``v`` and flows along
   citations in topological order over ``v``'s ancestry only: each work keeps
   its retained share for its payees (its owners, and its credits through its
   credit pool: :func:`hitrack.domain.payees.payee_shares`) and passes
   ``share`` to each source (a model's shares are blended with the event's
   attribution, step 5);
4. each creator's exact entitlement is rounded to micros by
   :func:`hitrack.domain.money.allocate` (largest remainder, ties by id).

Every other engine (:mod:`hitrack.domain.fast`, and any registered in
:data:`hitrack.domain.settlement.ENGINES`) must give the same micros and is
tested against this one. The event types, the checks and steps 1-3 are shared
by all engines and live in :mod:`hitrack.domain.settlement` (re-exported here).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from fractions import Fraction
from itertools import count
from typing import Any

import networkx as nx

from hitrack.domain.errors import UnknownWork
from hitrack.domain.money import allocate, format_micros
from hitrack.domain.payees import payee_parts, payees_of
from hitrack.domain.settlement import (
    BatchSettlement,
    BatchTotals,
    EventSettlement,
    Explanation,
    RevenueEvent,
    Route,
    Step,
    blended_shares,
    check_event_fields,
    prepare_event,
    prepare_events,
    split_event,
)
from hitrack.domain.shares import exact_percent, format_percent, format_share

__all__ = [
    "MAX_LISTED_PATHS",
    "credit_note",
    "RevenueEvent",
    "Step",
    "Route",
    "Explanation",
    "EventSettlement",
    "BatchSettlement",
    "ExactEngine",
    "validate_event",
    "check_event_fields",
    "split_event",
    "blended_shares",
    "credit_shares",
    "work_values",
    "settle_event",
    "settle_batch",
    "explain",
    "render_explanation",
    "render_lines",
    "explanation_entry",
    "recoup_entry",
]

# Paths listed per earning work: enough for any human reader, and it keeps the
# cost of an explanation bounded on graphs where paths multiply.
MAX_LISTED_PATHS = 20


def validate_event(G: nx.DiGraph, event: RevenueEvent) -> None:
    """Check a revenue event against the graph.

    Raises
    ------
    UnknownWork
        The event's work is not in the graph.
    InvalidEvent
        Negative amount or costs, fee rate outside [0, 1], attribution on a
        non-model, outside the model's manifest, negative, or summing to 0.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)})])
    >>> validate_event(G, RevenueEvent("e1", "r1", -5))
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidEvent: event e1: amount -5 is negative
    """
    prepare_event(ExactEngine(G), event)


def _sources(G: nx.DiGraph, work: str) -> dict[str, Fraction]:
    return {source: data["share"] for _, source, data in G.out_edges(work, data=True)}


def _event_shares(
    G: nx.DiGraph, work: str, attribution: Mapping[str, Fraction] | None
) -> dict[str, Fraction]:
    return blended_shares(_sources(G, work), G.nodes[work]["attribution_weight"], attribution)


def work_values(
    G: nx.DiGraph,
    work: str,
    attribution: Mapping[str, Fraction] | None = None,
    value: Fraction = Fraction(1),
    *,
    first_hop: Mapping[str, Fraction] | None = None,
) -> dict[str, Fraction]:
    """The exact value reaching each work of ``work``'s ancestry when ``value`` enters at ``work``.

    ``first_hop`` gives ``work``'s shares for this event when ``G`` holds only
    part of its sources (an explanation's subgraph); by default they are
    ``work``'s sources in ``G``, blended with ``attribution``.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("p1", "production", {"b": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> work_values(G, "p1", value=Fraction(100))
    {'p1': Fraction(100, 1), 'r1': Fraction(30, 1)}
    """
    if work not in G:
        raise UnknownWork(f"unknown work {work}", ids=(work,))
    sub = G.subgraph(nx.descendants(G, work) | {work})
    values: dict[str, Fraction] = {work: Fraction(value)}
    # Topological order over the ancestry only: every citer of a work is done
    # before the work passes its value on, so each work is visited once.
    for node in nx.lexicographical_topological_sort(sub):
        incoming = values.get(node)
        if not incoming:
            continue
        if node != work:
            shares = _sources(G, node)
        elif first_hop is not None:
            shares = dict(first_hop)
        else:
            shares = _event_shares(G, node, attribution)
        for source, share in shares.items():
            values[source] = values.get(source, Fraction(0)) + incoming * share
    return values


def credit_shares(
    G: nx.DiGraph, work: str, attribution: Mapping[str, Fraction] | None = None
) -> dict[str, Fraction]:
    """Each creator's exact fraction of one unit of value entering at ``work``.

    Parameters
    ----------
    G : networkx.DiGraph
        A contribution graph from :func:`~hitrack.domain.graph.build_graph`.
    work : str
        Where the value enters.
    attribution : mapping, optional
        For a model, the per-output attribution scores (DESIGN step 5).

    Returns
    -------
    dict[str, Fraction]
        Creator id -> fraction (non-zero only); the fractions sum to 1.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> credit_shares(G, "p1")
    {'alice': Fraction(3, 10), 'dana': Fraction(7, 10)}
    """
    return _entitlements(G, work, attribution, Fraction(1))


def _entitlements(
    G: nx.DiGraph, work: str, attribution: Mapping[str, Fraction] | None, value: Fraction
) -> dict[str, Fraction]:
    result: dict[str, Fraction] = {}
    for node, reached in work_values(G, work, attribution, value).items():
        kept = reached * _retained(G, node)
        if not kept:
            continue
        for payee, share in payees_of(G, node).items():
            result[payee] = result.get(payee, Fraction(0)) + kept * share
    return dict(sorted(result.items()))


def _retained(G: nx.DiGraph, work: str) -> Fraction:
    return 1 - sum((data["share"] for _, _, data in G.out_edges(work, data=True)), Fraction(0))


class ExactEngine:
    """The exact engine over one networkx graph (a :class:`~hitrack.domain.settlement.SettlementEngine`).

    It is also the graph its events are prepared against
    (:class:`~hitrack.domain.settlement.EventGraph`).

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1, 2), "b": Fraction(1, 2)})])
    >>> ExactEngine(G).settle_batch([RevenueEvent("e1", "r1", 1), RevenueEvent("e2", "r1", 2)]).creators
    {'a': 2, 'b': 1}
    """

    def __init__(self, G: nx.DiGraph) -> None:
        self.graph = G

    def kind_of(self, work: str) -> str | None:
        return str(self.graph.nodes[work]["kind"]) if work in self.graph else None

    def manifest_of(self, work: str) -> Iterable[str]:
        return self.graph.successors(work)  # type: ignore[no-any-return]

    def owners_of(self, work: str) -> Mapping[str, Fraction]:
        return self.graph.nodes[work]["owners"]  # type: ignore[no-any-return]

    def settle_event(self, event: RevenueEvent) -> EventSettlement:
        G = self.graph
        prepared = prepare_event(self, event)
        distributable = prepared.distributable
        entitlements = (
            _entitlements(G, event.work, event.attribution, Fraction(distributable))
            if distributable
            else {}
        )
        creators = {c: m for c, m in allocate(distributable, entitlements).items() if m}

        def explainer(creator: str) -> list[Explanation]:
            return explain(G, event, creator)

        return prepared.settlement(creators, entitlements, explainer)

    def settle_batch(self, events: Iterable[RevenueEvent]) -> BatchSettlement:
        G = self.graph
        totals = BatchTotals()
        entitlements: dict[str, Fraction] = {}
        for prepared in prepare_events(self, events):
            totals.add(prepared)
            if prepared.distributable:
                event = prepared.event
                for creator, value in _entitlements(
                    G, event.work, event.attribution, Fraction(prepared.distributable)
                ).items():
                    entitlements[creator] = entitlements.get(creator, Fraction(0)) + value
        entitlements = dict(sorted(entitlements.items()))
        creators = {c: m for c, m in allocate(totals.distributable, entitlements).items() if m}
        return totals.settlement(creators, entitlements)


def settle_event(G: nx.DiGraph, event: RevenueEvent) -> EventSettlement:
    """Settle one revenue event exactly (DESIGN section 3).

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> s = settle_event(G, RevenueEvent("e1", "p1", 1_000_000, 100_000, Fraction(1, 10)))
    >>> s.recouped, s.fee, s.creators
    ({'dana': 100000}, 90000, {'alice': 243000, 'dana': 567000})
    """
    return ExactEngine(G).settle_event(event)


def settle_batch(G: nx.DiGraph, events: Iterable[RevenueEvent]) -> BatchSettlement:
    """Settle many events as one batch (DESIGN section 3, step 8).

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1, 2), "b": Fraction(1, 2)})])
    >>> b = settle_batch(G, [RevenueEvent("e1", "r1", 1), RevenueEvent("e2", "r1", 2)])
    >>> b.creators
    {'a': 2, 'b': 1}
    """
    return ExactEngine(G).settle_batch(events)


def explain(
    G: nx.DiGraph,
    event: RevenueEvent,
    creator: str,
    *,
    max_paths: int = MAX_LISTED_PATHS,
    first_hop: Mapping[str, Fraction] | None = None,
) -> list[Explanation]:
    """The works of ``creator`` that earned in ``event``, each with its strongest paths.

    Paths are listed strongest first (the most value carried), up to
    ``max_paths`` per work, and the others counted. ``G`` may be only the part
    of the graph between the event's work and the creator's works (with their
    sources) when ``first_hop`` gives the event work's shares for the event
    (then the event is not checked again: it was when it settled).

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> [e] = explain(G, RevenueEvent("e1", "p1", 100_000_000), "alice")
    >>> e.work, e.amount, e.path
    ('r1', Fraction(30000000, 1), (Step(work='p1', source='r1', share=Fraction(3, 10)),))
    """
    if first_hop is None:
        validate_event(G, event)
        first_hop = _event_shares(G, event.work, event.attribution)
    distributable = Fraction(split_event(event)[2])
    if not distributable:
        return []
    values = work_values(G, event.work, event.attribution, distributable, first_hop=first_hop)
    path_counts = _count_paths(G, event.work, values)
    result = []
    for node in sorted(values):
        data = G.nodes[node]
        parts = [
            part
            for part in payee_parts(
                data["owners"], data.get("credits", ()), data.get("credit_pool", Fraction(0))
            )
            if part.payee == creator
        ]
        retained = _retained(G, node)
        if not parts or not retained or not values[node]:
            continue
        ownership = sum((part.share for part in parts), Fraction(0))
        kept = retained * ownership
        routes = [
            Route(steps, value, value * kept)
            for steps, value in _paths(G, event.work, node, distributable, first_hop, max_paths)
        ]
        routes.sort(key=lambda route: -route.value)
        result.append(
            Explanation(
                creator=creator,
                work=node,
                event_work=event.work,
                entering=distributable,
                value=values[node],
                retained=retained,
                ownership=ownership,
                amount=values[node] * kept,
                routes=tuple(routes),
                more_routes=path_counts[node] - len(routes),
                parts=tuple(parts),
            )
        )
    return result


def _count_paths(G: nx.DiGraph, start: str, values: Mapping[str, Fraction]) -> dict[str, int]:
    counts = {start: 1}
    for node in nx.topological_sort(G.subgraph(values)):
        for source in G.successors(node):
            counts[source] = counts.get(source, 0) + counts.get(node, 0)
    return counts


def _paths(
    G: nx.DiGraph,
    start: str,
    target: str,
    entering: Fraction,
    first_hop: Mapping[str, Fraction],
    limit: int,
) -> list[tuple[tuple[Step, ...], Fraction]]:
    """The ``limit`` strongest paths from ``start`` to ``target``, strongest first.

    Best-first search: shares are at most 1, so a path never carries more
    than its prefix, and complete paths leave the queue in decreasing value
    (ties in the order found, sources in id order).
    """
    found: list[tuple[tuple[Step, ...], Fraction]] = []
    reaches_target = nx.ancestors(G, target) | {target}
    order = count()
    queue: list[tuple[Fraction, int, str, tuple[Step, ...]]] = [(-entering, next(order), start, ())]
    while queue and len(found) < limit:
        negative, _, node, steps = heapq.heappop(queue)
        if node == target:
            found.append((steps, -negative))
            continue
        shares = first_hop if node == start else _sources(G, node)
        for source in sorted(shares):
            if source in reaches_target and shares[source]:
                heapq.heappush(
                    queue,
                    (
                        negative * shares[source],
                        next(order),
                        source,
                        (*steps, Step(node, source, shares[source])),
                    ),
                )
    return found


# -- explanations for people: one schema, one renderer ---------------------------


def _percent(share: Fraction) -> str:
    """A share as a percentage in words: exact when it ends, else "about" two decimals."""
    return exact_percent(share) or "about " + format_percent(share)


def _exact(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _node(G: nx.DiGraph, work: str, names: Mapping[str, str] | None) -> dict[str, Any]:
    node = G.nodes[work]
    label = "remix" if node["kind"] == "record" and G.out_degree(work) else node["kind"]
    return {
        "work": work,
        "title": node["title"] or work,
        "kind": node["kind"],
        "label": label,
        "by": "" if names is None else ", ".join(names.get(h, h) for h in sorted(node["owners"])),
    }


def explanation_entry(
    G: nx.DiGraph, explanation: Explanation, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An explanation in the one explanation schema (plain JSON values, exact amounts as "p/q").

    ``names`` maps creator ids to display names, to say who made each work on
    a path; without it the path names works only.
    """
    pool = next((part.credit_pool for part in explanation.parts if part.credit_pool), None)
    return {
        **_node(G, explanation.work, names),
        "event_work": _node(G, explanation.event_work, names),
        "entering": _exact(explanation.entering),
        "value": _exact(explanation.value),
        "retained": format_share(explanation.retained),
        "ownership": format_share(explanation.ownership),
        "amount": _exact(explanation.amount),
        "as_owner": explanation.as_owner,
        "credit_pool": None if pool is None else format_share(pool),
        "roles": [part.role for part in explanation.parts if part.role is not None],
        "routes": [
            {
                "steps": [
                    {**_node(G, step.source, names), "share": format_share(step.share)}
                    for step in route.steps
                ],
                "value": _exact(route.value),
                "amount": _exact(route.amount),
            }
            for route in explanation.routes
        ],
        "more_routes": explanation.more_routes,
    }


def recoup_entry(
    G: nx.DiGraph,
    work: str,
    *,
    costs: int,
    recouped: int,
    ownership: Fraction,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A recoup (costs fronted for ``work`` paid back) in the explanation schema."""
    return {
        "recoup": True,
        **_node(G, work, names),
        "costs": costs,
        "recouped": recouped,
        "ownership": format_share(ownership),
    }


def _money(exact: str, currency: str = "USD") -> str:
    value = Fraction(exact)
    return format_micros(value.numerator // value.denominator, currency)


def credit_note(role: str, work_title: str, pool: Fraction) -> str:
    """How money came to a credited person, as statements say it (the wording of explanations).

    >>> credit_note("sound mixer", "Night Swim", Fraction(1, 4))
    'as sound mixer on Night Swim, through 25% credit pool'
    """
    return f"as {role} on {work_title}, through {_percent(pool)} credit pool"


def _step_name(step: Mapping[str, Any]) -> str:
    return f"{step['title']} ({step['label']} by {step['by']})" if step["by"] else step["title"]


def render_lines(entries: Iterable[Mapping[str, Any]], currency: str = "USD") -> list[str]:
    """Explanation entries (the schema of :func:`explanation_entry`) as sentences, one per path.

    Words, not fractions: each step says how much of one work's value flows to
    the next, then what the creator holds of the last one, then the amount in
    ``currency``'s units to its minor unit (micros / 1,000,000, truncated), e.g.
    ``Night Swim (production) earned 100.00; 60% of Night Swim's value flows to
    Tide (remix by Bo); 40% of Tide's value flows to your record Shoreline; you
    own all of it: 24.00 of this sale``. The exact amounts stay in the entries
    (the pages show them one click away). The paths not listed are counted on a
    last line.
    """
    lines: list[str] = []
    for entry in entries:
        if entry.get("recoup"):
            lines.append(
                f"Costs of {format_micros(int(entry['costs']), currency)} fronted for your {entry['kind']} "
                f"{entry['title']}: {format_micros(int(entry['recouped']), currency)} recouped"
                + (
                    ""
                    if entry["ownership"] == "1"
                    else f", your part {_percent(Fraction(entry['ownership']))}"
                )
            )
            continue
        start = entry["event_work"]
        own = (
            f"your {entry['kind']} {entry['title']}"
            if entry.get("as_owner", True)
            else f"{entry['title']} ({entry['kind']})"
        )
        tail = _keeps(entry) + [_holding(entry)]
        for route in entry["routes"]:
            steps = route["steps"]
            earned = _money(entry["entering"], currency)
            if not steps:
                clauses = [f"{own[0].upper()}{own[1:]} earned {earned}"]
            else:
                clauses = [f"{start['title']} ({start['label']}) earned {earned}"]
                previous = start["title"]
                for step in steps[:-1]:
                    clauses.append(_flows(step["share"], previous, _step_name(step)))
                    previous = step["title"]
                clauses.append(_flows(steps[-1]["share"], previous, own))
            lines.append(
                "; ".join(clauses + tail) + f": {_money(route['amount'], currency)} of this sale"
            )
        if entry.get("more_routes"):
            lines.append(f"... and {entry['more_routes']} more paths")
    return lines


def _flows(share: str, source: str, target: str) -> str:
    return f"{_percent(Fraction(share))} of {source}’s value flows to {target}"


def _keeps(entry: Mapping[str, Any]) -> list[str]:
    """What the work keeps of its value when it cites sources of its own (nothing said if all)."""
    retained = Fraction(entry["retained"])
    if retained == 1:
        return []
    return [f"it keeps {_percent(retained)}, the rest flows to its own sources"]


def _holding(entry: Mapping[str, Any]) -> str:
    """The creator's hold on the work: ownership, or credits through its credit pool."""
    part = Fraction(entry["ownership"])
    if entry.get("credit_pool") is None:
        return "you own all of it" if part == 1 else f"you own {_percent(part)} of it"
    pool = _percent(Fraction(entry["credit_pool"]))
    roles = [f"as {role}" for role in entry.get("roles", ())]
    if not roles:
        return f"after the {pool} credit pool, as its owner your part is {_percent(part)}"
    reasons = " and ".join(["as owner", *roles] if entry.get("as_owner", True) else roles)
    return (
        f"{reasons} on {entry['title']}, through {pool} credit pool, your part is {_percent(part)}"
    )


def render_explanation(G: nx.DiGraph, explanation: Explanation) -> list[str]:
    """Human lines for an explanation, one per listed path (:func:`render_lines`).

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([
    ...     Work("r1", "record", {"you": Fraction(1)}, title="Shoreline"),
    ...     Work("t1", "record", {"x": Fraction(1)}, {"r1": Fraction(2, 5)}, title="Tide"),
    ...     Work("p1", "production", {"y": Fraction(1)}, {"t1": Fraction(3, 5)}, title="Night Swim"),
    ... ])
    >>> [e] = explain(G, RevenueEvent("e1", "p1", 100_000_000), "you")
    >>> render_explanation(G, e)
    ['Night Swim (production) earned 100.00; 60% of Night Swim’s value flows to Tide; 40% of Tide’s value flows to your record Shoreline; you own all of it: 24.00 of this sale']
    """
    return render_lines([explanation_entry(G, explanation)])
