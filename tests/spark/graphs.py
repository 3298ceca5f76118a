"""Seeded graphs for the Spark tests: a preferential-attachment catalogue and a deep remix chain."""

from __future__ import annotations

import random
from fractions import Fraction

from hitrack.domain.credit import RevenueEvent
from hitrack.domain.graph import Work


def catalogue(n: int, seed: int = 7, prefix: str = "w") -> list[Work]:
    """``n`` works citing 0-4 earlier ones, popular ones more often, two-decimal shares."""
    rng = random.Random(seed)
    creators = [f"c{i}" for i in range(max(n // 3, 2))]
    pool: list[int] = [0]
    works = []
    for i in range(n):
        chosen = {pool[rng.randrange(len(pool))] for _ in range(rng.randint(0, 4))} if i else set()
        cap = 90 // max(len(chosen), 1)
        sources = {f"{prefix}{s}": Fraction(rng.randint(1, cap), 100) for s in sorted(chosen)}
        pool.extend(chosen)
        pool.append(i)
        owners = rng.sample(creators, rng.randint(1, 3))
        split = [Fraction(1, len(owners))] * len(owners)
        kind = "model" if i % 97 == 0 and sources else rng.choice(["record", "production"])
        works.append(
            Work(
                f"{prefix}{i}",
                kind,
                dict(zip(owners, split, strict=True)),
                sources,
                attribution_weight=Fraction(1, 2) if kind == "model" else Fraction(0),
            )
        )
    return works


def chain(depth: int, prefix: str = "k") -> list[Work]:
    """A remix chain ``depth`` works deep: each work keeps a tenth and passes nine tenths on."""
    works = []
    for i in range(depth):
        sources = {f"{prefix}{i - 1}": Fraction(9, 10)} if i else {}
        owners = {f"chain{i % 7}": Fraction(1, 2), f"chain{(i * 3 + 1) % 11}x": Fraction(1, 2)}
        works.append(Work(f"{prefix}{i}", "record", owners, sources))
    return works


def events_at(
    works: list[Work], count: int, seed: int = 11, prefix: str = "e"
) -> list[RevenueEvent]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        work = rng.choice(works)
        attribution = None
        if work.kind == "model" and work.sources and rng.random() < 0.5:
            attribution = {s: Fraction(rng.randint(0, 5)) for s in work.sources}
            attribution[next(iter(work.sources))] += 1
        out.append(
            RevenueEvent(
                f"{prefix}{i}",
                work.id,
                rng.randint(0, 10**9),
                costs=rng.choice([0, 0, 1000]),
                fee_rate=rng.choice([Fraction(0), Fraction(1, 10), Fraction(1, 3)]),
                attribution=attribution,
            )
        )
    return out
