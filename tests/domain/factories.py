"""Small factories and Hypothesis strategies for domain tests."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from hitrack.domain.credit import RevenueEvent
from hitrack.domain.graph import Work
from hitrack.domain.payees import Credit

F = Fraction


def make_record(
    work_id: str, owner: str = "alice", sources: dict[str, Fraction] | None = None, **extra: object
) -> Work:
    return Work(work_id, "record", {owner: F(1)}, sources or {}, **extra)  # type: ignore[arg-type]


def make_remix(
    work_id: str,
    owners: dict[str, Fraction],
    sources: dict[str, Fraction],
    kind: str = "record",
    **extra: object,
) -> Work:
    return Work(work_id, kind, owners, sources, **extra)  # type: ignore[arg-type]


DESIGN_DOCUMENT = {
    "currency": "USD",
    "works": [
        {"id": "r1", "kind": "record", "owners": {"alice": "1"}},
        {
            "id": "r2",
            "kind": "record",
            "owners": {"bob": "1/2", "carol": "1/2"},
            "sources": {"r1": "0.4"},
        },
        {
            "id": "p1",
            "kind": "production",
            "owners": {"dana": "1"},
            "sources": {"r1": "0.3", "r2": "0.6"},
        },
        {
            "id": "m1",
            "kind": "model",
            "owners": {"lab": "1"},
            "sources": {"r1": "1/4", "r2": "1/4"},
            "attribution_weight": "1/2",
        },
    ],
    "events": [
        {"id": "e1", "work": "p1", "amount": 1000000, "costs": 100000, "fee_rate": "0.1"},
        {"id": "e2", "work": "m1", "amount": 250000, "attribution": {"r1": "3", "r2": "1"}},
    ],
}

# A studio-owned film with a performer and an unclaimed sound mixer, and a remix citing it.
CREDITS_DOCUMENT = {
    "currency": "USD",
    "works": [
        {
            "id": "f1",
            "kind": "record",
            "owners": {"studio": "1"},
            "title": "Night Swim",
            "credits": [
                {"payee": "gina", "role": "performer", "weight": "3"},
                {"payee": "credit:k7", "role": "sound mixer", "weight": "1"},
            ],
            "credit_pool": "1/4",
        },
        {"id": "r2", "kind": "record", "owners": {"ann": "1"}, "sources": {"f1": "0.4"}},
    ],
    "events": [
        {"id": "e1", "work": "r2", "amount": 1000000, "costs": 100000, "fee_rate": "0.1"},
        {"id": "e2", "work": "f1", "amount": 7},
    ],
}

CREATORS = ["ann", "ben", "cat", "dan", "eve", "fox"]
CREDITED = [*CREATORS, "credit:k1", "credit:k2"]
ROLES = ["performer", "writer", "sound mixer", "other: gaffer"]
WEIGHTS = [F(1), F(2), F(3), F(1, 2)]
POOLS = [F(0), F(1, 4), F(1, 3), F(1, 2), F(1)]
SHARES = [F(1, 10), F(1, 4), F(1, 3), F(3, 10), F(1, 7), F(1, 2), F(1)]
OWNER_SPLITS = [
    [F(1)],
    [F(1, 2), F(1, 2)],
    [F(1, 3), F(2, 3)],
    [F(1, 3)] * 3,
    [F(1, 2), F(1, 4), F(1, 4)],
]


@st.composite
def credits_strategy(draw: st.DrawFn) -> tuple[tuple[Credit, ...], Fraction]:
    """Credits (none to three, a person possibly twice, or also an owner) and a valid pool."""
    credits = tuple(
        Credit(
            draw(st.sampled_from(CREDITED)),
            draw(st.sampled_from(ROLES)),
            draw(st.sampled_from(WEIGHTS)),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    return credits, draw(st.sampled_from(POOLS)) if credits else F(0)


@st.composite
def works_strategy(draw: st.DrawFn, max_works: int = 10, credits: bool = False) -> list[Work]:
    """A valid set of works: each cites earlier ones only, shares summing to at most 1.

    With ``credits``, works may also carry credits and a credit pool.
    """
    count = draw(st.integers(1, max_works))
    works = []
    for i in range(count):
        kind = draw(st.sampled_from(["record", "production", "model"]))
        split = draw(st.sampled_from(OWNER_SPLITS))
        owners_ids = draw(
            st.lists(
                st.sampled_from(CREATORS), min_size=len(split), max_size=len(split), unique=True
            )
        )
        sources: dict[str, Fraction] = {}
        left = F(1)
        if i:
            for j in draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)):
                share = draw(st.sampled_from(SHARES))
                if share <= left:
                    sources[f"w{j}"] = share
                    left -= share
        works.append(
            Work(
                f"w{i}",
                kind,
                dict(zip(owners_ids, split, strict=True)),
                sources,
                attribution_weight=draw(st.sampled_from([F(0), F(1, 2), F(1)])),
                **(
                    dict(zip(("credits", "credit_pool"), draw(credits_strategy()), strict=True))
                    if credits
                    else {}
                ),
            )
        )
    return works


@st.composite
def events_strategy(draw: st.DrawFn, works: list[Work], max_events: int = 4) -> list[RevenueEvent]:
    events = []
    for k in range(draw(st.integers(1, max_events))):
        work = draw(st.sampled_from(works))
        attribution = None
        if work.kind == "model" and work.sources and draw(st.booleans()):
            attribution = {s: F(draw(st.integers(0, 3))) for s in work.sources}
            if not sum(attribution.values()):
                attribution[next(iter(work.sources))] = F(1)
        events.append(
            RevenueEvent(
                f"e{k}",
                work.id,
                draw(st.one_of(st.sampled_from([0, 1, 7, 1_000_000]), st.integers(0, 10**10))),
                costs=draw(st.sampled_from([0, 3, 100_000])),
                fee_rate=draw(st.sampled_from([F(0), F(1, 10), F(1, 3), F(1)])),
                attribution=attribution,
            )
        )
    return events
