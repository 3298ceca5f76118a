"""Credit lines on statements: which of a creator's credits brought them each earning.

Money earned through a credit says so on the creator's earnings and statement:
"as sound mixer on Night Swim, through 25% credit pool"
(:func:`hitrack.domain.credit.credit_note`). A statement may hold a hundred
thousand lines, so this is not an explanation per line: the creator's claimed
credits are read once (one query), and the works through which each credit
pays — the credited work and everything that transitively cites it — once
more (one recursive query), each with the graph version from which it cites
the credited work (citations are never rewritten, so an event settled at an
earlier version is not credited through a later citation). Each line is then
matched in memory.

A credit pays its creator directly once claimed (before that its money is in
escrow and reaches them with the claim, a line of its own), and no longer
once removed from its work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import BigInteger, case, func, literal, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Credit, Work
from hitrack.domain.credit import credit_note

__all__ = ["CreditReach", "credit_reach"]


@dataclass(frozen=True)
class _Held:
    work_id: int
    note: str
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class CreditReach:
    """A creator's claimed credits and, per credited work, the works whose earnings reach it."""

    credits: tuple[_Held, ...] = ()
    #: (credited work, reached work) -> the first graph version at which it is reached.
    reach: dict[tuple[int, int], int] | None = None

    def notes(
        self, work_id: int | None, version: int | None, settled_at: datetime
    ) -> tuple[str, ...]:
        """The credit lines of an earning from ``work_id``'s event settled at ``version``."""
        if not self.credits or work_id is None:
            return ()
        found = []
        for held in self.credits:
            if held.since is not None and settled_at < held.since:
                continue
            if held.until is not None and settled_at >= held.until:
                continue
            first = (
                0 if held.work_id == work_id else (self.reach or {}).get((held.work_id, work_id))
            )
            if first is None or (version is not None and first > version):
                continue
            found.append(held.note)
        return tuple(found)


def credit_reach(db: Session, creator_id: int) -> CreditReach:
    """What :meth:`CreditReach.notes` needs for ``creator_id``: two queries, one if they hold none."""
    rows = db.execute(
        select(
            Credit.work_id,
            Credit.role,
            Credit.claimed_at,
            Credit.removed_at,
            Work.title,
            Work.credit_pool_num,
            Work.credit_pool_den,
        )
        .join(Work, Work.id == Credit.work_id)
        .where(Credit.creator_id == creator_id, Credit.status == "claimed")
        .order_by(Credit.work_id, Credit.position, Credit.id)
    ).all()
    if not rows:
        return CreditReach()
    held = tuple(
        _Held(
            work_id=int(work_id),
            note=credit_note(str(role), str(title), Fraction(int(num), int(den))),
            since=claimed_at,
            until=removed_at,
        )
        for work_id, role, claimed_at, removed_at, title, num, den in rows
    )
    roots = sorted({h.work_id for h in held})
    walk = (
        select(
            Work.id.label("root"),
            Work.id.label("id"),
            literal(0, type_=BigInteger).label("version"),
        )
        .where(Work.id.in_(roots))
        .cte("credit_reach", recursive=True)
    )
    walk = walk.union(
        select(
            walk.c.root,
            Citation.work_id,
            case(
                (Citation.graph_version > walk.c.version, Citation.graph_version),
                else_=walk.c.version,
            ),
        ).join(walk, Citation.source_id == walk.c.id)
    )
    reach = {
        (int(root), int(work)): int(first)
        for root, work, first in db.execute(
            select(walk.c.root, walk.c.id, func.min(walk.c.version)).group_by(
                walk.c.root, walk.c.id
            )
        )
    }
    return CreditReach(held, reach)
