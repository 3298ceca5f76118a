"""The fake Stripe's memory: objects, rules, idempotency, events and faults.

Everything here is plain data (``dict`` objects shaped like Stripe's JSON)
behind one lock; :mod:`tests.fake_stripe.server` turns HTTP requests into
calls on :class:`FakeStripeState`. Time comes from a controllable clock so a
test can let idempotency keys (24 h) and account links (5 min) expire.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

__all__ = [
    "snapshot",
    "ACCOUNT_LINK_LIFETIME",
    "FAULT_KINDS",
    "IDEMPOTENCY_KEY_LIFETIME",
    "ApiError",
    "Fault",
    "FakeStripeState",
]

_T = TypeVar("_T")

IDEMPOTENCY_KEY_LIFETIME = 24 * 3600
ACCOUNT_LINK_LIFETIME = 300
API_VERSION = "2026-10-28.endive"

FAULT_KINDS = frozenset(
    {
        "transfer_500_after_create",  # creates the transfer, stores and answers a 500
        "transfer_500_before_create",  # answers a 500, creates nothing, stores nothing
        "timeout",  # executes, stores the answer, then sleeps past the client's timeout
        "connection_drop",  # executes, stores the answer, then closes the socket unanswered
        "insufficient_balance",  # the transfer fails with balance_insufficient
        "rate_limit",  # answers 429 before executing
    }
)

_REQUIREMENTS_BEFORE_ONBOARDING = [
    "business_type",
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


class ApiError(Exception):
    """A Stripe error answer: ``{"error": {"type", "code", "message", "param"}}``.

    ``stored`` says whether the idempotency layer keeps it for replay: Stripe
    stores the answer of every request whose endpoint began executing, but
    not parameter validation failures.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        stored: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.stored = stored
        self.body: dict[str, Any] = {"error": {"type": type, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


@dataclass
class Fault:
    """A failure armed with :meth:`FakeStripeState.fail_next`."""

    kind: str
    endpoint: str
    remaining: int = 1
    seconds: float = 3.0


@dataclass
class _IdempotentAnswer:
    fingerprint: str
    created: float
    status: int = 0
    body: Any = None
    in_progress: bool = True


@dataclass
class Answer:
    """What an endpoint produced, plus what the HTTP layer must do about faults."""

    status: int
    body: Any
    replayed: bool = False
    delay_seconds: float = 0.0
    drop_connection: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class FakeStripeState:
    """In-memory Stripe Connect: accounts, links, transfers, balance, checkout, events."""

    def __init__(self, *, public_base: Callable[[], str], start_time: float | None = None) -> None:
        self.lock = threading.RLock()
        self._public_base = public_base
        self._now = float(int(start_time if start_time is not None else time.time()))
        self._ids = itertools.count(1)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.account_links: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.payouts: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.deauthorized: set[str] = set()
        self.balance: dict[str, int] = {"usd": 10_000_000}
        self.faults: list[Fault] = []
        self.request_log: list[dict[str, Any]] = []
        self._idempotency: dict[tuple[str, str], _IdempotentAnswer] = {}
        # Insertion order doubles as creation order for "newest first" lists.
        self._seq: dict[str, int] = {}
        self._force_insufficient_balance = False

    # -- clock, ids, faults ----------------------------------------------

    @property
    def now(self) -> int:
        return int(self._now)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._now += seconds

    def new_id(self, prefix: str) -> str:
        n = next(self._ids)
        object_id = f"{prefix}_fake{n:010d}"
        self._seq[object_id] = n
        return object_id

    def fail_next(self, kind: str, *, endpoint: str, times: int, seconds: float) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, endpoint, times, seconds))

    def _take_fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint == endpoint:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- idempotent execution -------------------------------------------

    def execute(
        self,
        *,
        api_key: str,
        method: str,
        route: str,
        path: str,
        params: Mapping[str, Any],
        idempotency_key: str | None,
        handler: Callable[[Mapping[str, Any]], tuple[int, Any]],
    ) -> Answer:
        """Run one API request the way Stripe's idempotency layer would."""
        endpoint = f"{method} {route}"
        with self.lock:
            entry_key = (api_key, idempotency_key) if idempotency_key else None
            if entry_key is not None:
                self._expire_idempotency_keys()
                fingerprint = _fingerprint(method, path, params)
                entry = self._idempotency.get(entry_key)
                if entry is not None:
                    if entry.in_progress:
                        raise ApiError(
                            409,
                            "There is currently another in-progress request using this "
                            f"idempotency key: {idempotency_key}. Retry later.",
                            code="idempotency_key_in_use",
                        )
                    if entry.fingerprint != fingerprint:
                        raise ApiError(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other "
                            f"than '{idempotency_key}' if you meant to execute a different "
                            "request.",
                            type="idempotency_error",
                        )
                    return Answer(entry.status, entry.body, replayed=True)
                self._idempotency[entry_key] = _IdempotentAnswer(fingerprint, self._now)

            fault = self._take_fault(endpoint) if method == "POST" else None
            # Read by create_transfer; reset in ``finally`` so it never leaks.
            self._force_insufficient_balance = bool(fault and fault.kind == "insufficient_balance")
            try:
                if fault and fault.kind == "rate_limit":
                    raise ApiError(
                        429, "Too many requests hit the API too quickly.", code="rate_limit"
                    )
                if fault and fault.kind == "transfer_500_before_create":
                    raise ApiError(500, "An unknown error occurred.", type="api_error")
                status, body = handler(params)
                if fault and fault.kind == "transfer_500_after_create":
                    status, body = (
                        500,
                        ApiError(500, "An unknown error occurred.", type="api_error").body,
                    )
            except ApiError as error:
                if entry_key is not None:
                    if error.stored:
                        self._store(entry_key, error.status, error.body)
                    else:
                        del self._idempotency[entry_key]
                raise
            except Exception:
                if entry_key is not None:
                    del self._idempotency[entry_key]
                raise
            finally:
                self._force_insufficient_balance = False
            if entry_key is not None:
                self._store(entry_key, status, body)
            answer = Answer(status, body)
            if fault and fault.kind == "timeout":
                answer.delay_seconds = fault.seconds
            if fault and fault.kind == "connection_drop":
                answer.drop_connection = True
            return answer

    def _store(self, entry_key: tuple[str, str], status: int, body: Any) -> None:
        entry = self._idempotency[entry_key]
        entry.status, entry.body, entry.in_progress = status, body, False

    def _expire_idempotency_keys(self) -> None:
        cutoff = self._now - IDEMPOTENCY_KEY_LIFETIME
        for key in [k for k, e in self._idempotency.items() if e.created <= cutoff]:
            del self._idempotency[key]

    # -- events -----------------------------------------------------------

    def emit(
        self,
        type: str,
        obj: Mapping[str, Any],
        *,
        account: str | None = None,
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            data: dict[str, Any] = {"object": snapshot(obj)}
            if previous_attributes:
                data["previous_attributes"] = snapshot(previous_attributes)
            event: dict[str, Any] = {
                "id": self.new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": self.now,
                "data": data,
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type,
            }
            if account:
                event["account"] = account
            self.events.append(event)
            self.pending.append(event)
            return event

    # -- accounts ---------------------------------------------------------

    def create_account(self, params: Mapping[str, Any]) -> tuple[int, Any]:
        kind = params.get("type", "express")
        if kind not in ("express", "custom", "standard"):
            raise ApiError(400, f"Invalid type: {kind}", param="type")
        country = str(params.get("country", "US")).upper()
        if len(country) != 2:
            raise ApiError(400, f"Invalid country: {country}", param="country")
        requested = params.get("capabilities") or {}
        capabilities = {
            name: "inactive"
            for name, wish in requested.items()
            if isinstance(wish, dict) and _bool(wish.get("requested"))
        }
        account_id = self.new_id("acct")
        account = {
            "id": account_id,
            "object": "account",
            "type": kind,
            "business_type": None,
            "country": country,
            "email": params.get("email"),
            "default_currency": "usd",
            "created": self.now,
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "capabilities": capabilities,
            "requirements": {
                "currently_due": list(_REQUIREMENTS_BEFORE_ONBOARDING),
                "eventually_due": list(_REQUIREMENTS_BEFORE_ONBOARDING),
                "past_due": list(_REQUIREMENTS_BEFORE_ONBOARDING),
                "pending_verification": [],
                "errors": [],
                "current_deadline": None,
                "disabled_reason": "requirements.past_due",
            },
            "metadata": _metadata(params),
        }
        self.accounts[account_id] = account
        return 200, snapshot(account)

    def account(self, account_id: str) -> dict[str, Any]:
        if account_id in self.deauthorized:
            raise ApiError(
                403,
                f"The provided key does not have access to account '{account_id}' (or that "
                "account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        account = self.accounts.get(account_id)
        if account is None:
            raise ApiError(
                404, f"No such account: '{account_id}'", code="resource_missing", param="account"
            )
        return account

    def update_account(self, account_id: str, params: Mapping[str, Any]) -> tuple[int, Any]:
        account = self.account(account_id)
        if "email" in params:
            account["email"] = params["email"]
        if "metadata" in params:
            account["metadata"].update(_metadata(params))
        return 200, snapshot(account)

    def set_account(self, account_id: str, **changes: Any) -> dict[str, Any]:
        """Change an account's fields and emit ``account.updated`` with what changed."""
        with self.lock:
            account = self.account(account_id)
            previous = {k: snapshot(account[k]) for k in changes if account.get(k) != changes[k]}
            account.update(snapshot(changes))
            self.emit("account.updated", account, account=account_id, previous_attributes=previous)
            return snapshot(account)

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            account = self.account(account_id)
            capabilities = {name: "active" for name in account["capabilities"]}
            return self.set_account(
                account_id,
                details_submitted=True,
                payouts_enabled=True,
                charges_enabled="card_payments" in capabilities,
                business_type="individual",
                capabilities=capabilities,
                requirements={
                    "currently_due": [],
                    "eventually_due": [],
                    "past_due": [],
                    "pending_verification": [],
                    "errors": [],
                    "current_deadline": None,
                    "disabled_reason": None,
                },
            )

    def disable_payouts(
        self, account_id: str, *, reason: str, currently_due: Iterable[str]
    ) -> dict[str, Any]:
        with self.lock:
            account = self.account(account_id)
            due = list(currently_due)
            requirements = {**account["requirements"], "currently_due": due, "past_due": due}
            requirements["disabled_reason"] = reason
            return self.set_account(
                account_id,
                payouts_enabled=False,
                capabilities={name: "inactive" for name in account["capabilities"]},
                requirements=requirements,
            )

    def deauthorize(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            self.account(account_id)
            self.deauthorized.add(account_id)
            application = {"id": "ca_fakeplatform", "object": "application", "name": "hitrack"}
            return self.emit("account.application.deauthorized", application, account=account_id)

    def create_account_link(self, params: Mapping[str, Any]) -> tuple[int, Any]:
        for name in ("account", "type"):
            if not params.get(name):
                raise ApiError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
        if params["type"] not in ("account_onboarding", "account_update"):
            raise ApiError(400, f"Invalid type: {params['type']}", param="type")
        self.account(str(params["account"]))
        link_id = self.new_id("link")
        expires_at = self.now + ACCOUNT_LINK_LIFETIME
        self.account_links[link_id] = {
            "account": params["account"],
            "refresh_url": params.get("refresh_url"),
            "return_url": params.get("return_url"),
            "expires_at": expires_at,
            "used": False,
        }
        return 200, {
            "object": "account_link",
            "created": self.now,
            "expires_at": expires_at,
            "url": f"{self._public_base()}/onboarding/{link_id}",
        }

    def open_link(self, link_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(link, None)`` when usable, ``(None, refresh_url)`` when used or expired."""
        with self.lock:
            link = self.account_links.get(link_id)
            if link is None:
                return None, None
            if link["used"] or self.now >= link["expires_at"]:
                return None, link["refresh_url"]
            return link, None

    def submit_onboarding(self, link_id: str) -> str | None:
        """Complete onboarding through a link; the URL to redirect the browser to."""
        with self.lock:
            link, refresh = self.open_link(link_id)
            if link is None:
                return refresh
            link["used"] = True
            self.complete_onboarding(link["account"])
            return str(link["return_url"])

    # -- balance and transfers -------------------------------------------

    def balance_object(self) -> dict[str, Any]:
        return {
            "object": "balance",
            "livemode": False,
            "available": [
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in sorted(self.balance.items())
            ],
            "pending": [
                {"amount": 0, "currency": currency, "source_types": {"card": 0}}
                for currency in sorted(self.balance)
            ],
        }

    def create_transfer(self, params: Mapping[str, Any]) -> tuple[int, Any]:
        amount = _positive_int(params, "amount")
        currency = str(params.get("currency") or "").lower()
        if len(currency) != 3:
            raise ApiError(
                400, "Missing required param: currency.", code="parameter_missing", param="currency"
            )
        destination = str(params.get("destination") or "")
        if not destination:
            raise ApiError(
                400,
                "Missing required param: destination.",
                code="parameter_missing",
                param="destination",
            )
        account = self.accounts.get(destination)
        if account is None or destination in self.deauthorized:
            raise ApiError(
                400,
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
                stored=True,
            )
        if account["capabilities"].get("transfers") != "active":
            raise ApiError(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
                stored=True,
            )
        available = self.balance.get(currency, 0)
        if self._force_insufficient_balance or available < amount:
            raise ApiError(
                400,
                "You have insufficient available funds in your Stripe account. Try adding "
                "funds directly to your available balance by creating Charges using the "
                "4000000000000077 test card.",
                code="balance_insufficient",
                stored=True,
            )
        self.balance[currency] = available - amount
        transfer_id = self.new_id("tr")
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": self.new_id("txn"),
            "created": self.now,
            "currency": currency,
            "description": params.get("description"),
            "destination": destination,
            "destination_payment": self.new_id("py"),
            "livemode": False,
            "metadata": _metadata(params),
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        self.emit("transfer.created", transfer)
        return 200, snapshot(transfer)

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            raise ApiError(
                404, f"No such transfer: '{transfer_id}'", code="resource_missing", param="id"
            )
        return transfer

    def list_transfers(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows = list(self.transfers.values())
        if params.get("transfer_group"):
            rows = [t for t in rows if t["transfer_group"] == params["transfer_group"]]
        if params.get("destination"):
            rows = [t for t in rows if t["destination"] == params["destination"]]
        return rows

    def reverse_transfer(self, transfer_id: str, params: Mapping[str, Any]) -> tuple[int, Any]:
        transfer = self.transfer(transfer_id)
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = _positive_int(params, "amount") if "amount" in params else remaining
        if amount > remaining or remaining == 0:
            raise ApiError(
                400,
                f"Amount ({amount}) is greater than the amount that can be reversed ({remaining}).",
                code="amount_too_large",
                param="amount",
                stored=True,
            )
        reversal = {
            "id": self.new_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "created": self.now,
            "currency": transfer["currency"],
            "metadata": _metadata(params),
            "transfer": transfer_id,
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        transfer["reversals"]["total_count"] += 1
        self.balance[transfer["currency"]] = self.balance.get(transfer["currency"], 0) + amount
        self.emit("transfer.reversed", transfer)
        return 200, snapshot(reversal)

    def fail_payout(
        self, account_id: str, amount: int, currency: str, failure_code: str
    ) -> dict[str, Any]:
        """A connected account's bank payout bounced: ``payout.failed`` for that account."""
        with self.lock:
            self.account(account_id)
            payout: dict[str, Any] = {
                "id": self.new_id("po"),
                "object": "payout",
                "amount": amount,
                "currency": currency,
                "arrival_date": self.now,
                "created": self.now,
                "destination": self.new_id("ba"),
                "failure_code": failure_code,
                "failure_message": f"The payout failed: {failure_code}.",
                "status": "failed",
                "type": "bank_account",
                "metadata": {},
            }
            self.payouts[payout["id"]] = payout
            self.emit("payout.failed", payout, account=account_id)
            return snapshot(payout)

    # -- checkout ---------------------------------------------------------

    def create_checkout_session(self, params: Mapping[str, Any]) -> tuple[int, Any]:
        mode = params.get("mode")
        if mode != "payment":
            raise ApiError(
                400, "This fake supports mode=payment only.", code="parameter_invalid", param="mode"
            )
        if not params.get("success_url"):
            raise ApiError(
                400,
                "Missing required param: success_url.",
                code="parameter_missing",
                param="success_url",
            )
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise ApiError(
                400,
                "Missing required param: line_items.",
                code="parameter_missing",
                param="line_items",
            )
        total, currency = 0, None
        for index, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise ApiError(
                    400,
                    "This fake needs line_items[].price_data (no Price objects).",
                    code="parameter_missing",
                    param=f"line_items[{index}][price_data]",
                )
            unit = _positive_int(price, "unit_amount", f"line_items[{index}][price_data]")
            quantity = _positive_int(item, "quantity", f"line_items[{index}]")
            item_currency = str(price.get("currency", "")).lower()
            if currency not in (None, item_currency):
                raise ApiError(400, "All line items must share one currency.", param="currency")
            currency = item_currency
            total += unit * quantity
        session_id = self.new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": self.now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": self.now + 24 * 3600,
            "livemode": False,
            "metadata": _metadata(params),
            "mode": mode,
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"{self._public_base()}/checkout/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        return 200, snapshot(session)

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        """The session; an open one past its ``expires_at`` (24 h) expires now, as Stripe's do."""
        with self.lock:
            session = self.checkout_sessions.get(session_id)
            if session is None:
                raise ApiError(
                    404,
                    f"No such checkout.session: '{session_id}'",
                    code="resource_missing",
                    param="session",
                )
            if session["status"] == "open" and self.now >= session["expires_at"]:
                session["status"] = "expired"
                self.emit("checkout.session.expired", session)
            return session

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer paid: the platform's balance grows and the event is emitted."""
        with self.lock:
            session = self.checkout_session(session_id)
            if session["status"] != "open":
                raise ApiError(400, f"Checkout session {session_id} is {session['status']}.")
            session.update(
                status="complete", payment_status="paid", payment_intent=self.new_id("pi")
            )
            currency = session["currency"]
            self.balance[currency] = self.balance.get(currency, 0) + session["amount_total"]
            self.emit("checkout.session.completed", session)
            return snapshot(session)

    # -- lists ------------------------------------------------------------

    def page(self, rows: list[dict[str, Any]], params: Mapping[str, Any], url: str) -> Any:
        """Stripe's list shape, newest first, with ``limit`` / ``starting_after`` / ``ending_before``."""
        rows = sorted(rows, key=lambda row: self._seq.get(row["id"], 0), reverse=True)
        limit = _positive_int(params, "limit") if "limit" in params else 10
        if limit > 100:
            raise ApiError(
                400, "limit must be at most 100.", code="parameter_invalid", param="limit"
            )
        ids = [row["id"] for row in rows]
        if params.get("starting_after"):
            cursor = str(params["starting_after"])
            rows = rows[ids.index(cursor) + 1 :] if cursor in ids else []
            chosen, has_more = rows[:limit], len(rows) > limit
        elif params.get("ending_before"):
            cursor = str(params["ending_before"])
            rows = rows[: ids.index(cursor)] if cursor in ids else []
            chosen, has_more = rows[-limit:], len(rows) > limit
        else:
            chosen, has_more = rows[:limit], len(rows) > limit
        return {"object": "list", "data": snapshot(chosen), "has_more": has_more, "url": url}


def _fingerprint(method: str, path: str, params: Mapping[str, Any]) -> str:
    text = json.dumps([method, path, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _metadata(params: Mapping[str, Any]) -> dict[str, str]:
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ApiError(400, "Invalid metadata: must be an object.", param="metadata")
    return {str(k): str(v) for k, v in metadata.items() if v != ""}


def _positive_int(params: Mapping[str, Any], name: str, prefix: str = "") -> int:
    param = f"{prefix}[{name}]" if prefix else name
    raw = params.get(name)
    if raw is None or raw == "":
        raise ApiError(
            400, f"Missing required param: {param}.", code="parameter_missing", param=param
        )
    try:
        value = int(str(raw))
    except ValueError:
        raise ApiError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=param
        ) from None
    if value <= 0:
        raise ApiError(
            400,
            f"This value must be greater than 0: {param}",
            code="parameter_invalid_integer",
            param=param,
        )
    return value


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def snapshot(value: _T) -> _T:
    # Answers and events are snapshots: later changes to the stored object
    # must not leak into a response or an event already produced.
    return cast(_T, json.loads(json.dumps(value)))
