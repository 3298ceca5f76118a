"""The exact settlement engine: who is owed what for a revenue event.

This is the reference implementation of DESIGN section 3, over a
:class:`networkx.DiGraph` built by :func:`hitrack.domain.graph.build_graph`,
in exact rational arithmetic. For an event at work ``v``:

1. ``recouped = min(costs, amount)`` goes back to ``v``'s owners;
2. ``fee = floor((amount - recouped) * fee_rate)`` goes to the platform;
3. the rest, ``distributable``, enters the graph at ``v`` and flows along
   citations in topological order over ``v``'s ancestry only: each work keeps
   its retained share for its owners and passes ``share`` to each source (a
   model's shares are blended with the event's attribution, step 5);
4. each creator's exact entitlement is rounded to micros by
   :func:`hitrack.domain.money.allocate` (largest remainder, ties by id).

The fast engine (:mod:`hitrack.domain.fast`) must give the same micros and is
tested against this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import networkx as nx

from hitrack.domain.errors import InvalidEvent, UnknownWork
from hitrack.domain.money import allocate

__all__ = [
    "MAX_LISTED_PATHS",
    "RevenueEvent",
    "Step",
    "Route",
    "Explanation",
    "EventSettlement",
    "BatchSettlement",
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
]

# Paths listed per earning work: enough for any human reader, and it keeps the
# cost of an explanation bounded on graphs where paths multiply.
MAX_LISTED_PATHS = 20


@dataclass(frozen=True)
class RevenueEvent:
    """Money earned by one work, in integer micros.

    Examples
    --------
    >>> RevenueEvent("e1", "p1", 1_000_000, costs=100_000, fee_rate=Fraction(1, 10)).costs
    100000
    """

    id: str
    work: str
    amount: int
    costs: int = 0
    fee_rate: Fraction = Fraction(0)
    attribution: Mapping[str, Fraction] | None = None


@dataclass(frozen=True)
class Step:
    """One hop of a path: ``work`` passes ``share`` of its value to ``source``."""

    work: str
    source: str
    share: Fraction


@dataclass(frozen=True)
class Route:
    """One path from the event's work to an earning work, with what it carried.

    ``value`` is the exact value (micros) reaching the earning work along this
    path and ``amount`` the creator's exact entitlement from it.
    """

    steps: tuple[Step, ...]
    value: Fraction
    amount: Fraction


@dataclass(frozen=True)
class Explanation:
    """Why a creator earned from one of their works in one event.

    ``value`` is the exact value that reached ``work`` over all paths;
    ``amount = value * retained * ownership`` is the creator's exact
    entitlement from it. ``routes`` lists up to :data:`MAX_LISTED_PATHS`
    paths (largest first), and ``more_routes`` counts the others.
    ``path`` is the first listed route's steps (empty when ``work`` is the
    event's own work).
    """

    creator: str
    work: str
    event_work: str
    entering: Fraction
    value: Fraction
    retained: Fraction
    ownership: Fraction
    amount: Fraction
    routes: tuple[Route, ...]
    more_routes: int = 0

    @property
    def path(self) -> tuple[Step, ...]:
        return self.routes[0].steps if self.routes else ()


@dataclass(frozen=True)
class EventSettlement:
    """The settlement of one revenue event, in integer micros.

    ``recouped + fee + sum(creators.values()) == amount``. ``entitlements``
    holds each creator's exact share of ``distributable`` (non-zero only);
    ``explain(creator)`` computes the explanations on demand.
    """

    event_id: str
    work: str
    amount: int
    recouped: dict[str, int]
    fee: int
    distributable: int
    creators: dict[str, int]
    entitlements: Mapping[str, Fraction]
    _explainer: Callable[[str], list[Explanation]] | None = field(
        default=None, repr=False, compare=False
    )

    def explain(self, creator: str) -> list[Explanation]:
        """The works of ``creator`` that earned in this event, and how."""
        if self._explainer is None or self.distributable == 0:
            return []
        return self._explainer(creator)


@dataclass(frozen=True)
class BatchSettlement:
    """Many events settled as one (DESIGN section 3, step 8).

    Fees and recoups are per event; creators' exact entitlements are summed
    over the events and rounded once on the total ``distributable``.
    """

    events: int
    amount: int
    fee: int
    recouped: dict[str, int]
    distributable: int
    creators: dict[str, int]
    entitlements: Mapping[str, Fraction]


def check_event_fields(event: RevenueEvent, kind: str | None, manifest: Iterable[str]) -> None:
    """Rules on an event given its work's ``kind`` (None: unknown) and manifest.

    Shared by both engines so they reject exactly the same events.
    """
    if not isinstance(event.id, str) or not event.id:
        raise InvalidEvent(f"event id {event.id!r} must be a non-empty string")
    ids = (event.id,)
    if kind is None:
        raise UnknownWork(
            f"event {event.id}: unknown work {event.work}", ids=(event.id, event.work)
        )
    for name in ("amount", "costs"):
        value = getattr(event, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEvent(
                f"event {event.id}: {name} must be an integer number of micros", ids=ids
            )
        if value < 0:
            raise InvalidEvent(f"event {event.id}: {name} {value} is negative", ids=ids)
    if not isinstance(event.fee_rate, Fraction) or not 0 <= event.fee_rate <= 1:
        raise InvalidEvent(
            f"event {event.id}: fee_rate {event.fee_rate} is outside [0, 1]", ids=ids
        )
    if event.attribution is None:
        return
    if kind != "model":
        raise InvalidEvent(
            f"event {event.id}: attribution is only for models, and {event.work} is a {kind}",
            ids=ids,
        )
    allowed = set(manifest)
    for key, score in event.attribution.items():
        if key not in allowed:
            raise InvalidEvent(
                f"event {event.id}: attribution names {key}, which is not in the manifest "
                f"of model {event.work}",
                ids=(event.id, key),
            )
        if score < 0:
            raise InvalidEvent(
                f"event {event.id}: attribution score of {key} is negative", ids=(event.id, key)
            )
    if sum(event.attribution.values(), Fraction(0)) <= 0:
        raise InvalidEvent(f"event {event.id}: attribution sums to 0", ids=ids)


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
    kind = G.nodes[event.work]["kind"] if event.work in G else None
    manifest = G.successors(event.work) if kind is not None else ()
    check_event_fields(event, kind, manifest)


def split_event(event: RevenueEvent) -> tuple[int, int, int]:
    """``(recouped, fee, distributable)`` of an event (steps 1-3).

    Examples
    --------
    >>> split_event(RevenueEvent("e1", "p1", 1_000_000, 100_000, Fraction(1, 10)))
    (100000, 90000, 810000)
    """
    recouped = min(event.costs, event.amount)
    profit = event.amount - recouped
    fee = profit * event.fee_rate.numerator // event.fee_rate.denominator
    return recouped, fee, profit - fee


def blended_shares(
    shares: Mapping[str, Fraction],
    attribution_weight: Fraction,
    attribution: Mapping[str, Fraction] | None,
) -> dict[str, Fraction]:
    """A model's source shares for one event (DESIGN section 3, step 5).

    ``(1 - λ) * share(s) + λ * S * a(s) / sum(a)`` with ``S`` the sum of the
    manifest shares; the retained share does not change.

    Examples
    --------
    >>> blended_shares({"r1": Fraction(1, 4), "r2": Fraction(1, 4)}, Fraction(1, 2),
    ...                {"r1": Fraction(3), "r2": Fraction(1)})
    {'r1': Fraction(5, 16), 'r2': Fraction(3, 16)}
    """
    if attribution is None or attribution_weight == 0:
        return dict(shares)
    total_share = sum(shares.values(), Fraction(0))
    total_score = sum(attribution.values(), Fraction(0))
    return {
        source: (1 - attribution_weight) * share
        + attribution_weight * total_share * attribution.get(source, Fraction(0)) / total_score
        for source, share in shares.items()
    }


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
) -> dict[str, Fraction]:
    """The exact value reaching each work of ``work``'s ancestry when ``value`` enters at ``work``.

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
        shares = _event_shares(G, node, attribution) if node == work else _sources(G, node)
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
        for creator, ownership in G.nodes[node]["owners"].items():
            result[creator] = result.get(creator, Fraction(0)) + kept * ownership
    return dict(sorted(result.items()))


def _retained(G: nx.DiGraph, work: str) -> Fraction:
    return 1 - sum((data["share"] for _, _, data in G.out_edges(work, data=True)), Fraction(0))


def _split_recouped(owners: Mapping[str, Fraction], recouped: int) -> dict[str, int]:
    if not recouped:
        return {}
    split = allocate(recouped, {owner: recouped * f for owner, f in owners.items()})
    return {owner: micros for owner, micros in sorted(split.items()) if micros}


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
    validate_event(G, event)
    recouped, fee, distributable = split_event(event)
    entitlements = (
        _entitlements(G, event.work, event.attribution, Fraction(distributable))
        if distributable
        else {}
    )
    creators = {c: m for c, m in allocate(distributable, entitlements).items() if m}

    def explainer(creator: str) -> list[Explanation]:
        return explain(G, event, creator)

    return EventSettlement(
        event_id=event.id,
        work=event.work,
        amount=event.amount,
        recouped=_split_recouped(G.nodes[event.work]["owners"], recouped),
        fee=fee,
        distributable=distributable,
        creators=creators,
        entitlements=entitlements,
        _explainer=explainer,
    )


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
    count = amount = fee = distributable = 0
    recouped: dict[str, int] = {}
    entitlements: dict[str, Fraction] = {}
    seen: set[str] = set()
    for event in events:
        validate_event(G, event)
        if event.id in seen:
            raise InvalidEvent(f"duplicate event id {event.id}", ids=(event.id,))
        seen.add(event.id)
        event_recouped, event_fee, event_distributable = split_event(event)
        count += 1
        amount += event.amount
        fee += event_fee
        distributable += event_distributable
        for owner, micros in _split_recouped(G.nodes[event.work]["owners"], event_recouped).items():
            recouped[owner] = recouped.get(owner, 0) + micros
        if event_distributable:
            for creator, value in _entitlements(
                G, event.work, event.attribution, Fraction(event_distributable)
            ).items():
                entitlements[creator] = entitlements.get(creator, Fraction(0)) + value
    entitlements = dict(sorted(entitlements.items()))
    creators = {c: m for c, m in allocate(distributable, entitlements).items() if m}
    return BatchSettlement(
        events=count,
        amount=amount,
        fee=fee,
        recouped=dict(sorted(recouped.items())),
        distributable=distributable,
        creators=creators,
        entitlements=entitlements,
    )


def explain(
    G: nx.DiGraph, event: RevenueEvent, creator: str, *, max_paths: int = MAX_LISTED_PATHS
) -> list[Explanation]:
    """The works of ``creator`` that earned in ``event``, each with its paths.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)}),
    ...                  Work("p1", "production", {"dana": Fraction(1)}, {"r1": Fraction(3, 10)})])
    >>> [e] = explain(G, RevenueEvent("e1", "p1", 100_000_000), "alice")
    >>> e.work, e.amount, e.path
    ('r1', Fraction(30000000, 1), (Step(work='p1', source='r1', share=Fraction(3, 10)),))
    """
    validate_event(G, event)
    distributable = Fraction(split_event(event)[2])
    if not distributable:
        return []
    values = work_values(G, event.work, event.attribution, distributable)
    first_hop = _event_shares(G, event.work, event.attribution)
    path_counts = _count_paths(G, event.work, values)
    result = []
    for node in sorted(values):
        ownership = G.nodes[node]["owners"].get(creator)
        retained = _retained(G, node)
        if ownership is None or not retained or not values[node]:
            continue
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
    """Up to ``limit`` paths from ``start`` to ``target``, by depth-first search in id order."""
    found: list[tuple[tuple[Step, ...], Fraction]] = []
    reaches_target = nx.ancestors(G, target) | {target}

    def walk(node: str, steps: tuple[Step, ...], value: Fraction) -> None:
        if len(found) >= limit:
            return
        if node == target:
            found.append((steps, value))
            return
        shares = first_hop if node == start else _sources(G, node)
        for source in sorted(shares):
            if source in reaches_target and shares[source]:
                walk(source, (*steps, Step(node, source, shares[source])), value * shares[source])

    walk(start, (), entering)
    return found


def _percent(share: Fraction) -> str:
    from hitrack.domain.shares import format_share

    text = format_share(share * 100)
    return f"{text}%" if "/" not in text else f"{format_share(share)} of it"


def render_explanation(G: nx.DiGraph, explanation: Explanation) -> list[str]:
    """Human lines for an explanation, one per listed path.

    Amounts are in currency units to the cent (micros / 1,000,000, truncated).

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
    ['100.00 earned by Night Swim (production) -> 60% to Tide -> 40% to your record Shoreline, retained 100%: 24.00']
    """
    from hitrack.domain.money import format_micros

    def name(work: str) -> str:
        return str(G.nodes[work]["title"] or work)

    def money(value: Fraction) -> str:
        return format_micros(value.numerator // value.denominator)

    lines = []
    start = explanation.event_work
    for route in explanation.routes:
        parts = [
            f"{money(explanation.entering)} earned by {name(start)} ({G.nodes[start]['kind']})"
        ]
        for step in route.steps[:-1]:
            parts.append(f"{_percent(step.share)} to {name(step.source)}")
        owned = f"your {G.nodes[explanation.work]['kind']} {name(explanation.work)}"
        if route.steps:
            parts.append(f"{_percent(route.steps[-1].share)} to {owned}")
        else:
            parts[0] = f"{money(explanation.entering)} earned by {owned}"
        own = "" if explanation.ownership == 1 else f", your part {_percent(explanation.ownership)}"
        lines.append(
            " -> ".join(parts)
            + f", retained {_percent(explanation.retained)}{own}: {money(route.amount)}"
        )
    if explanation.more_routes:
        lines.append(f"... and {explanation.more_routes} more paths")
    return lines
