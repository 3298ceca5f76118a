"""Works that earn, built straight from rows: finalized productions and registered models.

Revenue tests need a finalized production and a registered model without
walking through the production and model workflows (their own tests do);
these factories write the rows those workflows end with.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Creator, Work, WorkOwner
from hitrack.domain.shares import parse_share

_ids = itertools.count(1)


def make_person(db: Session, name: str, *, admin: bool = False) -> Creator:
    """A creator without a password (hashing one is slow); use make_creator to log in."""
    n = next(_ids)
    creator = Creator(
        handle=f"{name.lower()}-{n}",
        email=f"{name.lower()}.{n}@money.test",
        display_name=name,
        password_hash=None,
        role="admin" if admin else "creator",
    )
    db.add(creator)
    db.commit()
    return creator


def make_work(
    db: Session,
    kind: str,
    title: str,
    owners: Mapping[Creator, str | int],
    sources: Mapping[Work, str] | None = None,
    *,
    status: str | None = None,
    attribution_weight: str = "0",
    ai_training: bool = True,
) -> Work:
    """A work of any kind with its owners and sources, committed."""
    work = Work(
        public_id=f"{kind[0]}t{next(_ids):05d}",
        kind=kind,
        title=title,
        status=status or ("finalized" if kind == "production" else "active"),
        consent_ai_training=ai_training,
        created_by_id=next(iter(owners)).id,
    )
    work.attribution_weight = parse_share(attribution_weight)
    for creator, fraction in owners.items():
        work.owners.append(WorkOwner(creator_id=creator.id, fraction=parse_share(fraction)))
    db.add(work)
    db.flush()
    for source, share in (sources or {}).items():
        db.add(Citation(work_id=work.id, source_id=source.id, share=parse_share(share)))
    db.commit()
    db.refresh(work)
    return work


@dataclass
class Song:
    """The demo's song: Shoreline (Ana) <- Tide (Bo, 40%) <- Night Swim (Dee's production, 60%)."""

    admin: Creator
    ana: Creator
    bo: Creator
    cy: Creator
    dee: Creator
    shoreline: Work
    tide: Work
    sketch: Work
    night_swim: Work
    model: Work


def make_song(db: Session, *, people: Mapping[str, Creator] | None = None) -> Song:
    """The song; ``people`` may bring some of its creators (e.g. ones who can log in)."""
    given = dict(people or {})
    admin = given.get("admin") or make_person(db, "Admin", admin=True)
    ana, bo, cy, dee = (
        given.get(n.lower()) or make_person(db, n) for n in ("Ana", "Bo", "Cy", "Dee")
    )
    shoreline = make_work(db, "record", "Shoreline", {ana: 1})
    tide = make_work(db, "record", "Tide", {bo: 1}, {shoreline: "0.4"})
    sketch = make_work(db, "record", "Sketch", {cy: "1/2", ana: "1/2"})
    night_swim = make_work(db, "production", "Night Swim", {dee: 1}, {tide: "0.6", sketch: "1/10"})
    model = make_work(
        db,
        "model",
        "Wave Model",
        {cy: 1},
        {shoreline: "1/4", sketch: "1/4"},
        attribution_weight="1/2",
    )
    return Song(admin, ana, bo, cy, dee, shoreline, tide, sketch, night_swim, model)


def usd(units: int | str) -> int:
    """Currency units to micros: ``usd(100) == 100_000_000``."""
    return int(Fraction(str(units)) * 1_000_000)


def record_many(
    url: str, admin_id: int, work_ids: list[str], indexes: list[int], duplicates: int
) -> int:
    """Record the events ``indexes`` (and ``duplicates`` shared ones) on their own engine.

    The body of one concurrency worker (a thread or a process); returns how
    many events it created.
    """
    from hitrack.db.session import make_engine, make_session_factory
    from hitrack.services.revenue import record_revenue

    engine = make_engine(url)
    sessions = make_session_factory(engine)
    created = 0
    try:
        for i in [*indexes, *(-1 - k for k in range(duplicates))]:
            with sessions() as db:
                admin = db.get(Creator, admin_id)
                created += record_revenue(
                    db, admin, concurrency_event(work_ids, i), default_fee_rate=Fraction(0)
                ).created
    finally:
        engine.dispose()
    return created


def concurrency_event(work_ids: list[str], i: int) -> dict[str, object]:
    """Event number ``i`` of the concurrency test (negative: one every worker sends)."""
    n = abs(i)
    return {
        "external_id": f"conc-{i}",
        "work": work_ids[n % len(work_ids)],
        "amount": 1_000_003 * (n % 17 + 1) + n,
        "currency": "USD",
        "costs": (n % 3) * 100_000,
        "fee_rate": ("0", "0.1", "1/3")[n % 3],
    }
