"""How a work settles: per event (``immediate``) or per settlement period, shown and chosen.

The rule lives in :func:`hitrack.services.revenue.settlement_mode` (a work's
own choice, else its kind and size: a model with many sources settles per
period). This module lets the people responsible see which mode applies and
why, and choose: a work's owners (a model's operator) and admins may set it to
``immediate`` or ``period``, or back to the default (``None``).

Changing the mode changes how *later* funded events settle. Events already
waiting for a period stay funded until the next period closes (a period
settles every funded event up to its cut-off, whatever the mode), so no money
is settled twice or skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hitrack.db.models import SETTLEMENT_MODES, Creator, Work
from hitrack.domain.errors import InvalidInput, PermissionDenied
from hitrack.services import revenue
from hitrack.services.graph import get_work, visible_work
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "SettlementSetting",
    "settlement_setting",
    "set_settlement_mode",
    "parse_mode",
    "may_choose",
]


@dataclass(frozen=True)
class SettlementSetting:
    """The mode that applies to a work, and whether it was chosen or is its default."""

    work: str
    mode: str
    chosen: str | None

    @property
    def is_default(self) -> bool:
        return self.chosen is None


def settlement_setting(db: Session, work: Work, *, period_min_sources: int) -> SettlementSetting:
    """Which mode ``work`` settles in now (one bounded count query at most)."""
    return SettlementSetting(
        work=work.public_id,
        mode=revenue.settlement_mode(db, work, period_min_sources=period_min_sources),
        chosen=work.settlement_mode,
    )


def parse_mode(value: object) -> str | None:
    """``immediate``, ``period``, or ``None`` / ``"default"`` for the work's default."""
    if value is None or value == "default":
        return None
    if isinstance(value, str) and value.strip() in SETTLEMENT_MODES:
        return value.strip()
    raise InvalidInput(
        "mode: expected one of immediate, period or default (null)"
        + (f", got {value!r}"[:80] if isinstance(value, str) else "")
    )


def may_choose(actor: Creator | None, work: Work) -> bool:
    """Owners of the work (a model's operator) and admins choose how it settles."""
    return actor is not None and (actor.is_admin or work.is_owned_by(actor.id))


def set_settlement_mode(
    db: Session, actor: Creator, public_id: object, mode: object, *, period_min_sources: int
) -> SettlementSetting:
    """``actor`` sets how the work ``public_id`` settles; nothing changes on a refusal."""
    work = visible_work(db, actor, public_id)
    if not may_choose(actor, work):
        raise PermissionDenied(
            f"only the owners of {work.public_id} or an admin choose how it settles",
            ids=(work.public_id,),
        )
    chosen = parse_mode(mode)
    with unit_of_work(db):
        locked = get_work(db, work.public_id, lock=True)
        locked.settlement_mode = chosen
    return settlement_setting(db, locked, period_min_sources=period_min_sources)
