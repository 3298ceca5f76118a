"""Settlement periods: every funded event up to a cut-off settled as one batch per currency.

A work settles per event (``immediate``) or per period
(:func:`hitrack.services.revenue.settlement_mode`). Closing a period
(:func:`submit_period`, the ``settlement_period`` job) settles, for each
currency, all funded events up to the cut-off as one batch (DESIGN section 3,
step 8): fee and recoup per event, each creator's exact entitlements summed
and rounded once on the batch's total distributable, with the fast engine over
the current compact graph. Each currency is one database transaction: the
period row (unique per cut-off and currency), one ledger transaction
(idempotency key ``settlement-period:<period>``), the allocations and the
events' new state, all written in bulk.

Closing twice settles nothing twice: a period already closed is returned as
it is, concurrent closes queue on one lock and then on the events' row locks,
and an event is only ever picked up while it is ``funded``. A worker killed
mid-period loses at most the currency it was writing (its transaction rolls
back); the job, resumed, skips the currencies its checkpoint and the period
rows say are done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.bulk import update_rows
from hitrack.db.models import Creator, Job, RevenueEvent, SettlementPeriod, Work
from hitrack.domain import fast
from hitrack.domain.errors import Conflict, InvalidInput, PermissionDenied
from hitrack.domain.ledger import Posting
from hitrack.domain.money import format_micros
from hitrack.domain.settlement import RevenueEvent as DomainEvent
from hitrack.domain.settlement import split_event, split_recouped
from hitrack.domain.shares import parse_share
from hitrack.jobs.base import JobQueue
from hitrack.services import compact_graph, jobs, ledger
from hitrack.services.revenue.settling import creator_ids, exact_text, insert_allocations
from hitrack.services.unit_of_work import read_only, unit_of_work

__all__ = [
    "KIND",
    "parse_until",
    "submit_period",
    "close_currency",
    "pending_currencies",
    "periods",
    "settlement_period_job",
]

KIND = "settlement_period"
PERIOD_LOCK_ID = 0x5E771E  # the advisory lock that queues concurrent closes
_CHUNK = 5_000


def parse_until(value: object, *, now: datetime | None = None) -> datetime:
    """A period's cut-off: an ISO date (its end, midnight UTC next day) or date-time; default now."""
    now = now or utcnow()
    if value in (None, ""):
        return now
    if not isinstance(value, str):
        raise InvalidInput("until: an ISO date or date-time")
    try:
        if len(value.strip()) == 10:
            day = datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
            until = day.replace(hour=23, minute=59, second=59)
        else:
            until = datetime.fromisoformat(value.strip())
            until = until.replace(tzinfo=UTC) if until.tzinfo is None else until.astimezone(UTC)
    except ValueError:
        raise InvalidInput(f"until: {value!r} is not an ISO date or date-time") from None
    if until > now:  # a fact of the moment, not of the request: 409 (it can close later)
        raise Conflict("until: a period cannot close in the future")
    return until


def submit_period(db: Session, queue: JobQueue, admin: Creator | None, until: datetime) -> Job:
    """Queue the closing of the period up to ``until`` (admins; None is the system).

    The same cut-off submitted again returns the same job.
    """
    if admin is not None and not admin.is_admin:
        raise PermissionDenied("only admins close settlement periods")
    stamp = until.astimezone(UTC).isoformat()
    with unit_of_work(db):
        return jobs.submit(
            db, queue, KIND, {"until": stamp}, actor=admin, key=f"settlement-period:{stamp}"
        )


def pending_currencies(db: Session, until: datetime) -> list[str]:
    """The currencies of funded events waiting for a period that ends at ``until``."""
    with read_only(db):  # each currency then closes in a transaction of its own
        return list(
            db.scalars(
                select(RevenueEvent.currency)
                .where(RevenueEvent.state == "funded", RevenueEvent.funded_at <= until)
                .distinct()
                .order_by(RevenueEvent.currency)
            )
        )


def _public_id(until: datetime, currency: str) -> str:
    return f"period-{until.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{currency}"


def close_currency(
    db: Session, until: datetime, currency: str, *, job_id: int | None = None
) -> SettlementPeriod | None:
    """Settle every funded ``currency`` event up to ``until`` as one batch; commits.

    Returns the period (the one closed before, for a cut-off closed already),
    or None when no event was waiting.
    """
    public_id = _public_id(until, currency)
    with unit_of_work(db):
        if db.get_bind().dialect.name == "postgresql":
            db.execute(select(func.pg_advisory_xact_lock(PERIOD_LOCK_ID)))
        done = db.scalar(select(SettlementPeriod).where(SettlementPeriod.public_id == public_id))
        if done is not None:
            return done
        rows = db.execute(
            select(
                RevenueEvent.id,
                RevenueEvent.external_id,
                Work.public_id,
                RevenueEvent.amount,
                RevenueEvent.costs,
                RevenueEvent.fee_rate_num,
                RevenueEvent.fee_rate_den,
                RevenueEvent.attribution,
            )
            .join(Work, Work.id == RevenueEvent.work_id)
            .where(
                RevenueEvent.state == "funded",
                RevenueEvent.currency == currency,
                RevenueEvent.funded_at <= until,
            )
            .order_by(RevenueEvent.id)
            .with_for_update(of=RevenueEvent)
        ).all()
        if not rows:
            return None
        events = [
            DomainEvent(
                row[1],
                row[2],
                row[3],
                row[4],
                Fraction(row[5], row[6]),
                None if row[7] is None else {k: parse_share(v) for k, v in row[7].items()},
            )
            for row in rows
        ]
        graph = compact_graph.whole_graph(db)
        cg = graph.graph
        batch = fast.settle_batch(cg, events)
        fill_all = getattr(batch.entitlements, "fill_all", None)
        if fill_all is not None:
            fill_all()  # every creator's exact entitlement in one pass, not one each

        # Per event: its split (steps 1-3) and its recoups, which go to the owners.
        updates: list[tuple[int, int, int, int]] = []
        recoups: list[tuple[int, str, int, Fraction]] = []
        for row, event in zip(rows, events, strict=True):
            recouped, fee, distributable = split_event(event)
            updates.append((row[0], fee, recouped, distributable))
            if recouped:
                owners = cg.owners_of(cg.work_index[event.work])
                for handle, micros in split_recouped(owners, recouped).items():
                    recoups.append((row[0], handle, micros, recouped * owners[handle]))
        ids = creator_ids(db, {*batch.entitlements, *(r[1] for r in recoups)})
        payable: dict[int, int] = {}
        for handle, micros in batch.creators.items():
            payable[ids[handle]] = payable.get(ids[handle], 0) + micros
        for _, handle, micros, _ in recoups:
            payable[ids[handle]] = payable.get(ids[handle], 0) + micros
        postings = [
            Posting(ledger.unsettled_account(currency), currency, batch.amount),
            Posting(ledger.fees_account(currency), currency, -batch.fee),
            *(
                Posting(ledger.payable_account(creator, currency), currency, -micros)
                for creator, micros in sorted(payable.items())
                if micros
            ),
        ]
        ledger.ensure_accounts(db, sorted({p.account for p in postings}))
        transaction = ledger.post_transaction(
            db,
            f"settlement-period:{public_id}",
            "revenue",
            postings,
            f"{format_micros(batch.amount)} {currency} of {batch.events} funded events settled "
            f"in period {public_id}",
        )
        period = SettlementPeriod(
            public_id=public_id,
            until=until,
            currency=currency,
            events=batch.events,
            amount=batch.amount,
            fee=batch.fee,
            graph_version=graph.version,
            transaction_id=transaction.id,
            job_id=job_id,
        )
        db.add(period)
        db.flush()
        allocations: list[dict[str, object]] = [
            {
                "event_id": None,
                "period_id": period.id,
                "creator_id": ids[handle],
                "kind": "earning",
                "amount": batch.creators.get(handle, 0),
                "exact": exact_text(exact),
            }
            for handle, exact in batch.entitlements.items()
        ]
        allocations += [
            {
                "event_id": event_id,
                "period_id": None,
                "creator_id": ids[handle],
                "kind": "recoup",
                "amount": micros,
                "exact": exact_text(exact),
            }
            for event_id, handle, micros, exact in recoups
        ]
        insert_allocations(db, allocations)
        update_rows(
            db,
            cast(Table, RevenueEvent.__table__),
            ("fee", "recouped", "distributable"),
            updates,
            {
                "state": "settled",
                "transaction_id": transaction.id,
                "period_id": period.id,
                "graph_version": graph.version,
            },
        )
    return period


def periods(db: Session, *, limit: int = 50) -> list[SettlementPeriod]:
    """The latest closed periods, newest first."""
    return list(
        db.scalars(
            select(SettlementPeriod)
            .order_by(SettlementPeriod.closed_at.desc(), SettlementPeriod.id.desc())
            .limit(limit)
        )
    )


@jobs.job_kind(KIND)
def settlement_period_job(ctx: jobs.JobContext) -> Mapping[str, Any]:
    until = datetime.fromisoformat(str(ctx.params["until"]))
    done = [str(c) for c in ctx.state.get("done", [])]
    with ctx.sessions() as db:
        todo = [c for c in pending_currencies(db, until) if c not in done]
        total = len(done) + len(todo)
        for currency in todo:
            ctx.progress(len(done), total, f"settling {currency}")
            period = close_currency(db, until, currency, job_id=ctx.job_id)
            done.append(currency)
            ctx.save_state(done=done)
            if period is not None:
                ctx.progress(len(done), total, f"settled {currency}: {period.events} events")
        closed = list(
            db.scalars(
                select(SettlementPeriod)
                .where(SettlementPeriod.until == until)
                .order_by(SettlementPeriod.currency)
            )
        )
        summary = ", ".join(
            f"{format_micros(p.amount)} {p.currency} ({p.events} events)" for p in closed
        )
        return {
            "periods": [p.public_id for p in closed],
            "events": sum(p.events for p in closed),
            "summary": f"period to {until.isoformat()} closed: {summary or 'nothing was waiting'}",
        }
