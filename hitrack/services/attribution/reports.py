"""An output's attribution report, and where a creator's works were matched.

A creator's works here are the works they are paid from: those they own and
those they hold a credit on (paid through the work's credit pool), so a
credited sound mixer reads the reports of outputs that matched the film like
its studio does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from hitrack.attribution import (
    VECTOR_TOTAL,
)
from hitrack.db.models import (
    AttributionMatch,
    AttributionOutput,
    Citation,
    Creator,
    Credit,
    RevenueEvent,
    Work,
    WorkOwner,
)
from hitrack.domain.credit import blended_shares
from hitrack.domain.errors import (
    NotFound,
)


@dataclass(frozen=True)
class ReportLine:
    """A matched work: score, signal, its part of the vector and what it was paid, per currency.

    ``paid[currency]`` is the exact value the output's revenue passed to the
    work (the blended share of DESIGN section 3 step 5), ``by_attribution`` the
    part of it that came through the vector.
    """

    work: Work
    score: float
    signal: str
    share: int
    paid: dict[str, Fraction]
    by_attribution: dict[str, Fraction]

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.share, VECTOR_TOTAL)


@dataclass(frozen=True)
class OutputReport:
    output: AttributionOutput
    model: Work
    lines: list[ReportLine]
    events: dict[str, int]  # currency -> number of revenue events naming the output
    distributable: dict[str, int]  # currency -> what those events brought into the model
    attribution_weight: Fraction
    viewer_is_operator: bool = False
    viewer_works: set[int] = field(default_factory=set)

    @property
    def attributes(self) -> bool:
        return any(line.share for line in self.lines)


def _manifest_total(db: Session, model_id: int) -> Fraction:
    rows = db.execute(
        select(Citation.share_num, Citation.share_den).where(Citation.work_id == model_id)
    ).all()
    return sum((Fraction(n, d) for n, d in rows), Fraction(0))


def credited_works(db: Session, creator: Creator) -> Select[Any]:
    """The ids of the works ``creator`` holds a live credit on (a subquery)."""
    return select(Credit.work_id).where(
        Credit.creator_id == creator.id,
        Credit.status == "claimed",
        Credit.removed_at.is_(None),
    )


def paid_from(db: Session, creator: Creator) -> Select[Any]:
    """The ids of the works ``creator`` is paid from: owned or credited (a subquery)."""
    owned = select(WorkOwner.work_id).where(WorkOwner.creator_id == creator.id)
    return select(owned.union(credited_works(db, creator)).subquery().c.work_id)


def output_report(db: Session, viewer: Creator | None, output_id: object) -> OutputReport:
    """The attribution report of an output, for its model's operator, admins, and the owners
    and credit holders of the works it matched."""
    output = db.scalar(
        select(AttributionOutput)
        .where(AttributionOutput.public_id == str(output_id))
        .options(
            selectinload(AttributionOutput.matches)
            .selectinload(AttributionMatch.work)
            .selectinload(Work.owners)
            .selectinload(WorkOwner.creator),
            selectinload(AttributionOutput.model).selectinload(Work.owners),
        )
    )
    if output is None or viewer is None:
        raise NotFound(f"output {output_id} not found", ids=(str(output_id),))
    model = output.model
    operator = model.is_owned_by(viewer.id)
    own = {m.work_id for m in output.matches if m.work.is_owned_by(viewer.id)}
    matched_ids = [m.work_id for m in output.matches]
    if matched_ids:
        own |= set(db.scalars(credited_works(db, viewer).where(Credit.work_id.in_(matched_ids))))
    if not (viewer.is_admin or operator or own):
        raise NotFound(f"output {output_id} not found", ids=(str(output_id),))
    totals = db.execute(
        select(RevenueEvent.currency, func.count(), func.sum(RevenueEvent.distributable))
        # Only settled money was paid through the output; a report still waiting
        # for its funding paid nobody yet.
        .where(RevenueEvent.output == output.public_id, RevenueEvent.state == "settled")
        .group_by(RevenueEvent.currency)
        .order_by(RevenueEvent.currency)
    ).all()
    events = {r[0]: int(r[1]) for r in totals}
    distributable = {r[0]: int(r[2] or 0) for r in totals}
    weight = model.attribution_weight
    matched = {m.work.public_id: m for m in output.matches}
    shares = {
        key: Fraction(num, den)
        for key, num, den in db.execute(
            select(Work.public_id, Citation.share_num, Citation.share_den)
            .join(Work, Work.id == Citation.source_id)
            .where(Citation.work_id == model.id, Work.public_id.in_(list(matched)))
        )
    }
    vector = {key: Fraction(m.share) for key, m in matched.items() if m.share > 0} or None
    # The rest of the manifest as one entry keeps S (the manifest total) right
    # without loading every record; it has no score, so the blend is unchanged.
    rest = _manifest_total(db, model.id) - sum(shares.values(), Fraction(0))
    blended = blended_shares({**shares, "\0rest": rest}, weight, vector)
    lines = []
    for key, m in sorted(matched.items(), key=lambda kv: (-kv[1].score, kv[0])):
        paid = {c: d * blended.get(key, Fraction(0)) for c, d in distributable.items()}
        through_vector = {
            c: (paid[c] - d * (1 - weight) * shares.get(key, Fraction(0)))
            if vector is not None and weight
            else Fraction(0)
            for c, d in distributable.items()
        }
        lines.append(ReportLine(m.work, m.score, m.signal, m.share, paid, through_vector))
    return OutputReport(output, model, lines, events, distributable, weight, operator, own)


@dataclass(frozen=True)
class MatchCount:
    """``work`` was matched in ``outputs`` outputs of ``model`` (the newest is ``latest``)."""

    work: Work
    model: Work
    outputs: int
    latest: str


def _counts(db: Session, condition: object) -> list[MatchCount]:
    rows = db.execute(
        select(
            AttributionMatch.work_id,
            AttributionOutput.model_id,
            func.count(AttributionOutput.id),
            func.max(AttributionOutput.id),
        )
        .join(AttributionOutput, AttributionOutput.id == AttributionMatch.output_id)
        .where(condition)  # type: ignore[arg-type]
        .group_by(AttributionMatch.work_id, AttributionOutput.model_id)
    ).all()
    ids = {r[0] for r in rows} | {r[1] for r in rows}
    works = {w.id: w for w in db.scalars(select(Work).where(Work.id.in_(ids)))} if ids else {}
    latest = (
        dict(
            db.execute(
                select(AttributionOutput.id, AttributionOutput.public_id).where(
                    AttributionOutput.id.in_([r[3] for r in rows])
                )
            ).all()
        )
        if rows
        else {}
    )
    counts = [MatchCount(works[r[0]], works[r[1]], int(r[2]), latest[r[3]]) for r in rows]
    counts.sort(key=lambda c: (c.work.title, c.work.public_id, c.model.public_id))
    return counts


def matches_for_creator(db: Session, creator: Creator) -> list[MatchCount]:
    """For each work the creator is paid from and each model: in how many outputs it was matched."""
    return _counts(db, AttributionMatch.work_id.in_(paid_from(db, creator)))


def matched_in(db: Session, viewer: Creator | None, work: Work) -> list[MatchCount]:
    """The same counts for one work, shown to its owners and credit holders (empty for others)."""
    if viewer is None:
        return []
    if not work.is_owned_by(viewer.id) and not any(
        c.creator_id == viewer.id and c.status == "claimed" and c.removed_at is None
        for c in work.credits
    ):
        return []
    return _counts(db, AttributionMatch.work_id == work.id)
