"""What every settlement engine shares: its interface, its results and the preparation of events.

An engine settles revenue events over one contribution graph (DESIGN
section 3) and exposes the same two functions with the same result types
(:class:`SettlementEngine`): ``settle_event(event) -> EventSettlement`` and
``settle_batch(events) -> BatchSettlement``. Every engine must give the exact
rational reference's micros, so everything before the propagation is done
here, once, for all of them:

* :func:`check_event_fields` — the rules on an event (ids, amounts, fee rate)
  and :func:`check_attribution`, the one check of a per-output attribution;
* :func:`split_event` — steps 1-3: recouped, fee, distributable;
* :func:`split_recouped` — the recouped micros split among the owners;
* :func:`blended_shares` — a model's source shares for one event (step 5);
* :func:`prepare_event` / :func:`prepare_events` and :class:`BatchTotals` —
  the pipeline an engine runs its events through, over its own graph seen
  as an :class:`EventGraph`.

Engines are registered by name in :data:`ENGINES` and built from a validated
networkx graph with :func:`make_engine`. An engine outside the pure core (a
distributed one) is named by its import path and imported only when asked
for, so the core never depends on it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

import networkx as nx

from hitrack.domain.errors import InvalidEvent, InvalidInput, UnknownWork
from hitrack.domain.money import allocate
from hitrack.domain.payees import PayeePart
from hitrack.domain.shares import parse_share

__all__ = [
    "RevenueEvent",
    "Step",
    "Route",
    "Explanation",
    "EventSettlement",
    "BatchSettlement",
    "SettlementEngine",
    "EventGraph",
    "PreparedEvent",
    "BatchTotals",
    "check_event_fields",
    "check_attribution",
    "split_event",
    "split_recouped",
    "blended_shares",
    "prepare_event",
    "prepare_events",
    "ENGINES",
    "make_engine",
]


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
    """Why a creator earned from one of the works they are paid by, in one event.

    ``value`` is the exact value that reached ``work`` over all paths;
    ``ownership`` is the creator's part of the work's retained value as its
    payee (DESIGN section 1), made of ``parts`` (as owner, as a credit through
    the credit pool); ``amount = value * retained * ownership`` is the
    creator's exact entitlement from it. ``routes`` lists up to
    :data:`~hitrack.domain.credit.MAX_LISTED_PATHS` paths (largest first), and
    ``more_routes`` counts the others. ``path`` is the first listed route's
    steps (empty when ``work`` is the event's own work).
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
    parts: tuple[PayeePart, ...] = ()

    @property
    def path(self) -> tuple[Step, ...]:
        return self.routes[0].steps if self.routes else ()

    @property
    def as_owner(self) -> bool:
        """Whether the creator is paid (also) as an owner of the work."""
        return not self.parts or any(part.role is None for part in self.parts)


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


@runtime_checkable
class SettlementEngine(Protocol):
    """A settlement engine bound to one contribution graph.

    Every engine gives the same micros as the exact reference
    (:class:`hitrack.domain.credit.ExactEngine`), for the same events, and
    refuses the same bad events with the same errors.
    """

    def settle_event(self, event: RevenueEvent) -> EventSettlement:
        """Settle one event (DESIGN section 3)."""
        ...

    def settle_batch(self, events: Iterable[RevenueEvent]) -> BatchSettlement:
        """Settle many events as one batch (DESIGN section 3, step 8)."""
        ...


# Engine name -> "module:factory", the factory taking a graph built by
# hitrack.domain.graph.build_graph. Imported only when the engine is asked for.
ENGINES: dict[str, str] = {
    "exact": "hitrack.domain.credit:ExactEngine",
    "fast": "hitrack.domain.fast:FastEngine.from_graph",
}


def make_engine(name: str, G: nx.DiGraph) -> SettlementEngine:
    """The engine registered as ``name``, over the contribution graph ``G``.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"alice": Fraction(1)})])
    >>> make_engine("fast", G).settle_event(RevenueEvent("e1", "r1", 5)).creators
    {'alice': 5}
    """
    if name not in ENGINES:
        raise InvalidInput(
            f"unknown settlement engine {name!r} (expected one of {', '.join(ENGINES)})",
            ids=(name,),
        )
    module, _, attribute = ENGINES[name].partition(":")
    factory: Any = importlib.import_module(module)
    for name_part in attribute.split("."):
        factory = getattr(factory, name_part)
    engine: SettlementEngine = factory(G)
    return engine


# -- the rules on an event ----------------------------------------------------


def check_attribution(
    attribution: object,
    *,
    model: str,
    kind: str,
    manifest: Iterable[str],
    event: str | None = None,
) -> dict[str, Fraction]:
    """Check a per-output attribution (DESIGN section 3, step 5) and return its exact scores.

    The one home of the rule: the work is a model, every key is a work of
    its manifest, every score is an exact number >= 0 and they sum to more
    than 0. Each error names every offending id; with ``event`` (the event's
    id) it is an :class:`~hitrack.domain.errors.InvalidEvent` about that event.

    Raises
    ------
    InvalidInput
        (InvalidEvent when ``event`` is given) on the first broken rule.

    Examples
    --------
    >>> check_attribution({"r1": "3", "r2": 1}, model="m1", kind="model", manifest=["r1", "r2"])
    {'r1': Fraction(3, 1), 'r2': Fraction(1, 1)}
    >>> check_attribution({"r9": 1}, model="m1", kind="model", manifest=["r1"], event="e2")
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidEvent: event e2: attribution names r9, which is not in the manifest of model m1
    """
    error = InvalidInput if event is None else InvalidEvent
    prefix = "" if event is None else f"event {event}: "
    about = () if event is None else (event,)
    if kind != "model":
        raise error(
            f"{prefix}attribution is only for models, and {model} is a {kind}",
            ids=about or (model,),
        )
    if not isinstance(attribution, Mapping) or not attribution:
        raise error(
            f"{prefix}attribution: expected a non-empty object of work id -> score", ids=about
        )
    if not all(isinstance(key, str) and key for key in attribution):
        raise error(f"{prefix}attribution: keys are work ids", ids=about)
    allowed = set(manifest)
    outside = sorted(key for key in attribution if key not in allowed)
    if outside:
        names = ", ".join(outside)
        verb = "which is" if len(outside) == 1 else "which are"
        raise error(
            f"{prefix}attribution names {names}, {verb} not in the manifest of model {model}",
            ids=(*about, *outside),
        )
    scores = {
        key: parse_share(raw, what=f"{prefix}attribution score of {key}")
        for key, raw in attribution.items()
    }
    negative = sorted(key for key, score in scores.items() if score < 0)
    if negative:
        subject = "score of" if len(negative) == 1 else "scores of"
        verb = "is" if len(negative) == 1 else "are"
        raise error(
            f"{prefix}attribution {subject} {', '.join(negative)} {verb} negative",
            ids=(*about, *negative),
        )
    if sum(scores.values(), Fraction(0)) <= 0:
        raise error(
            f"{prefix}attribution sums to 0: at least one score must be positive, "
            "as scores that sum to 0 attribute nothing",
            ids=about or (model,),
        )
    return scores


def check_event_fields(event: RevenueEvent, kind: str | None, manifest: Iterable[str]) -> None:
    """Rules on an event given its work's ``kind`` (None: unknown) and manifest.

    Shared by every engine so they reject exactly the same events.

    Examples
    --------
    >>> check_event_fields(RevenueEvent("e1", "r1", 5, fee_rate=Fraction(2)), "record", ())
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidEvent: event e1: fee_rate 2 is outside [0, 1]
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
    if event.attribution is not None:
        check_attribution(
            event.attribution, model=event.work, kind=kind, manifest=manifest, event=event.id
        )


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


def split_recouped(owners: Mapping[str, Fraction], recouped: int) -> dict[str, int]:
    """The recouped micros of one event split among the owners of its work (step 6's rule).

    Examples
    --------
    >>> split_recouped({"a": Fraction(1, 3), "b": Fraction(2, 3)}, 10)
    {'a': 3, 'b': 7}
    """
    if not recouped:
        return {}
    if len(owners) == 1:
        return {next(iter(owners)): recouped}
    split = allocate(recouped, {owner: recouped * f for owner, f in owners.items()})
    return {owner: micros for owner, micros in sorted(split.items()) if micros}


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


# -- the preparation pipeline -------------------------------------------------


class EventGraph(Protocol):
    """What the preparation of an event needs to know of an engine's graph."""

    def kind_of(self, work: str) -> str | None:
        """The work's kind, or None when it is not in the graph."""
        ...

    def manifest_of(self, work: str) -> Iterable[str]:
        """The ids of the works it cites (a model's manifest)."""
        ...

    def owners_of(self, work: str) -> Mapping[str, Fraction]:
        """Its owners and their fractions (who recoups its costs)."""
        ...


@dataclass(frozen=True)
class PreparedEvent:
    """An event after the checks and steps 1-3: what every engine settles from."""

    event: RevenueEvent
    recouped: dict[str, int]
    fee: int
    distributable: int

    def settlement(
        self,
        creators: dict[str, int],
        entitlements: Mapping[str, Fraction],
        explainer: Callable[[str], list[Explanation]] | None = None,
    ) -> EventSettlement:
        """The event's settlement, given how its distributable was paid."""
        return EventSettlement(
            event_id=self.event.id,
            work=self.event.work,
            amount=self.event.amount,
            recouped=self.recouped,
            fee=self.fee,
            distributable=self.distributable,
            creators=creators,
            entitlements=entitlements,
            _explainer=explainer,
        )


def prepare_event(graph: EventGraph, event: RevenueEvent) -> PreparedEvent:
    """Check ``event`` against ``graph`` and split it (steps 1-3), recoup included.

    Examples
    --------
    >>> from hitrack.domain.credit import ExactEngine
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("p1", "production", {"dana": Fraction(1)})])
    >>> prepare_event(ExactEngine(G), RevenueEvent("e1", "p1", 10, 4, Fraction(1, 2)))
    PreparedEvent(event=RevenueEvent(id='e1', work='p1', amount=10, costs=4, fee_rate=Fraction(1, 2), attribution=None), recouped={'dana': 4}, fee=3, distributable=3)
    """
    kind = graph.kind_of(event.work) if isinstance(event.work, str) else None
    manifest = graph.manifest_of(event.work) if kind and event.attribution is not None else ()
    check_event_fields(event, kind, manifest)
    recouped, fee, distributable = split_event(event)
    owners = graph.owners_of(event.work) if recouped else {}
    return PreparedEvent(event, split_recouped(owners, recouped), fee, distributable)


def prepare_events(graph: EventGraph, events: Iterable[RevenueEvent]) -> Iterator[PreparedEvent]:
    """:func:`prepare_event` for each event of a batch, refusing a repeated event id."""
    seen: set[str] = set()
    for event in events:
        prepared = prepare_event(graph, event)
        if event.id in seen:
            raise InvalidEvent(f"duplicate event id {event.id}", ids=(event.id,))
        seen.add(event.id)
        yield prepared


@dataclass
class BatchTotals:
    """A batch's per-event parts summed (DESIGN section 3, step 8): fees and recoups per event."""

    events: int = 0
    amount: int = 0
    fee: int = 0
    distributable: int = 0
    recouped: dict[str, int] = field(default_factory=dict)

    def add(self, prepared: PreparedEvent) -> None:
        self.events += 1
        self.amount += prepared.event.amount
        self.fee += prepared.fee
        self.distributable += prepared.distributable
        for owner, micros in prepared.recouped.items():
            self.recouped[owner] = self.recouped.get(owner, 0) + micros

    def settlement(
        self, creators: dict[str, int], entitlements: Mapping[str, Fraction]
    ) -> BatchSettlement:
        """The batch's settlement, given how its total distributable was paid."""
        return BatchSettlement(
            events=self.events,
            amount=self.amount,
            fee=self.fee,
            recouped=dict(sorted(self.recouped.items())),
            distributable=self.distributable,
            creators=creators,
            entitlements=entitlements,
        )
