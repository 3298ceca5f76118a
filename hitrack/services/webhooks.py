"""Provider webhooks: each event is a row before it is handled, then one small handler runs.

The endpoint verifies the signature (the provider's ``parse_webhook``) and
passes the :class:`~hitrack.payments.base.ProviderEvent` here. The event is
stored first, unique on ``(provider, event id)``: a replay of an event already
``processed`` or ``ignored`` changes nothing, and one that ``failed`` (or was
interrupted) is handled again. Events may arrive out of order, so handlers
are idempotent on their own keys too (a checkout sale becomes the revenue
event ``stripe:<checkout session id>``; a checkout that funds a reported event
funds it once, see :mod:`hitrack.services.funding`).

Handlers live in :data:`HANDLERS`, keyed by event type; types without a
handler are stored as ``ignored``. To handle another type (the payouts'
``transfer.*``), add a function ``(db, event, context) -> status`` to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.db.models import WebhookEvent
from hitrack.domain.errors import HitrackError, InvalidEvent
from hitrack.domain.money import from_minor_units, parse_currency
from hitrack.payments.base import ProviderEvent
from hitrack.services import funding, payouts, revenue
from hitrack.services.graph import get_work
from hitrack.services.unit_of_work import discard, unit_of_work

__all__ = ["WebhookContext", "Handler", "HANDLERS", "handle_event", "checkout_completed"]


@dataclass(frozen=True)
class WebhookContext:
    """Plain values handlers need (from settings)."""

    default_fee_rate: Fraction = Fraction(0)


Handler = Callable[[Session, ProviderEvent, WebhookContext], str]


def _amount_total(event: ProviderEvent) -> int:
    amount = event.data.get("amount_total")  # in the currency's minor unit
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidEvent(f"checkout {event.object_id} has no amount_total")
    return amount


def checkout_completed(db: Session, event: ProviderEvent, context: WebhookContext) -> str:
    """A paid Checkout session: it funds the reported event its metadata names
    (``revenue_event``), or a sale of a production becomes a revenue event (``work``)."""
    session = event.data
    metadata = session.get("metadata") or {}
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "ignored"  # paid later: Stripe sends async_payment_succeeded then
    if metadata.get("revenue_event"):
        funding.fund_from_checkout(
            db,
            str(metadata["revenue_event"]),
            session_id=event.object_id,
            amount_minor=_amount_total(event),
            currency=str(session.get("currency") or ""),
        )
        return "processed"
    work_id = metadata.get("work")
    if not work_id:
        return "ignored"  # not a sale of a hitrack work
    if get_work(db, str(work_id)).kind != "production":
        raise InvalidEvent(
            f"checkout {event.object_id} sells {work_id}, which is not a production",
            ids=(str(work_id),),
        )
    # A sale comes with its money: funded on arrival and settled at once.
    amount_minor = _amount_total(event)  # in the currency's minor unit
    currency = parse_currency(session.get("currency"), f"checkout {event.object_id}: currency")
    revenue.record_revenue(
        db,
        None,
        {
            "external_id": f"stripe:{event.object_id}",
            "work": str(work_id),
            "amount": from_minor_units(amount_minor, currency),
            "currency": currency,
        },
        default_fee_rate=context.default_fee_rate,
        origin="stripe",
    )
    return "processed"


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
}
# Payout accounts, reversals and bank failures (hitrack.services.payouts).
HANDLERS.update(payouts.WEBHOOK_HANDLERS)


def _store(db: Session, provider: str, event: ProviderEvent) -> WebhookEvent:
    query = select(WebhookEvent).where(
        WebhookEvent.provider == provider, WebhookEvent.event_id == event.id
    )
    try:
        with unit_of_work(db):
            row = db.scalar(query)
            if row is None:
                row = WebhookEvent(
                    provider=provider,
                    event_id=event.id,
                    type=event.type,
                    payload={
                        "id": event.id,
                        "type": event.type,
                        "created": event.created,
                        "account": event.account_id,
                        "object": dict(event.data),
                    },
                )
                db.add(row)
    except IntegrityError:  # the same event delivered twice at once
        row = db.scalars(query).one()
    return row


def handle_event(
    db: Session, provider: str, event: ProviderEvent, context: WebhookContext | None = None
) -> WebhookEvent:
    """Store a verified provider event, then handle it once; returns its row with the status.

    Handlers are use cases that commit their own units of work; whatever a
    failed one left uncommitted is discarded before its failure is recorded.
    """
    context = context or WebhookContext()
    row = _store(db, provider, event)
    if row.status in ("processed", "ignored"):
        return row
    handler = HANDLERS.get(event.type)
    try:
        status = "ignored" if handler is None else handler(db, event, context)
        error = ""
    except HitrackError as exc:
        discard(db)
        status, error = "failed", exc.message
    with unit_of_work(db):
        row.status, row.error, row.processed_at = status, error, datetime.now(UTC)
    return row
