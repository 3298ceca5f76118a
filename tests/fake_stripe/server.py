"""A fake Stripe Connect API on loopback, driven by the real ``stripe`` library.

It speaks the v1 wire format the library uses (form-encoded bodies with
bracketed keys, JSON answers with ``object`` fields, Stripe's error shape),
keeps state in memory (:mod:`tests.fake_stripe.state`), honours idempotency
keys with Stripe's 24-hour window on a controllable clock, serves the hosted
onboarding and checkout pages a browser would visit (a checkout session
expires after 24 hours on the fake's clock, and :meth:`FakeStripe.pay_checkout`
pays one and delivers its webhook in one call), signs webhooks the way
Stripe does and can be told to fail in the ways real networks and real Stripe
fail. Start it with :meth:`FakeStripe.running`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.fake_stripe.forms import FormError, parse_form
from tests.fake_stripe.state import (
    FAULT_KINDS,
    Answer,
    ApiError,
    FakeStripeState,
    snapshot,
)

__all__ = ["Delivery", "FakeStripe", "sign_payload"]

_Handler = Callable[[FakeStripeState, "re.Match[str]", Mapping[str, Any]], tuple[int, Any]]


def _routes() -> list[tuple[str, str, re.Pattern[str], _Handler]]:
    """``(method, route name, pattern, handler)``; the route name is what faults target."""
    table: list[tuple[str, str, _Handler]] = [
        ("POST", "/v1/accounts", lambda s, m, p: s.create_account(p)),
        ("GET", "/v1/accounts/{id}", lambda s, m, p: (200, s.account(m["id"]))),
        ("POST", "/v1/accounts/{id}", lambda s, m, p: s.update_account(m["id"], p)),
        ("POST", "/v1/account_links", lambda s, m, p: s.create_account_link(p)),
        ("GET", "/v1/balance", lambda s, m, p: (200, s.balance_object())),
        ("POST", "/v1/transfers", lambda s, m, p: s.create_transfer(p)),
        (
            "GET",
            "/v1/transfers",
            lambda s, m, p: (200, s.page(s.list_transfers(p), p, "/v1/transfers")),
        ),
        ("GET", "/v1/transfers/{id}", lambda s, m, p: (200, s.transfer(m["id"]))),
        (
            "POST",
            "/v1/transfers/{id}/reversals",
            lambda s, m, p: s.reverse_transfer(m["id"], p),
        ),
        (
            "GET",
            "/v1/transfers/{id}/reversals",
            lambda s, m, p: (
                200,
                s.page(
                    s.transfer(m["id"])["reversals"]["data"],
                    p,
                    f"/v1/transfers/{m['id']}/reversals",
                ),
            ),
        ),
        ("POST", "/v1/checkout/sessions", lambda s, m, p: s.create_checkout_session(p)),
        (
            "GET",
            "/v1/checkout/sessions/{id}",
            lambda s, m, p: (200, s.checkout_session(m["id"])),
        ),
        (
            "GET",
            "/v1/events",
            lambda s, m, p: (
                200,
                s.page(
                    [e for e in s.events if p.get("type") in (None, e["type"])], p, "/v1/events"
                ),
            ),
        ),
        ("GET", "/v1/events/{id}", lambda s, m, p: (200, _event(s, m["id"]))),
    ]
    return [
        (method, name, re.compile("^" + name.replace("{id}", r"(?P<id>[A-Za-z0-9_]+)") + "$"), fn)
        for method, name, fn in table
    ]


def _event(state: FakeStripeState, event_id: str) -> dict[str, Any]:
    for event in state.events:
        if event["id"] == event_id:
            return event
    raise ApiError(404, f"No such event: '{event_id}'", code="resource_missing", param="id")


_ROUTES = _routes()


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's ``Stripe-Signature`` header: ``t=<ts>,v1=<hmac-sha256 of "ts.payload">``."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery attempt and the receiver's answer (0: unreachable)."""

    event_id: str
    type: str
    status: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (its timeout fired while the fake was told to
        # stall) is the point of the exercise, not an error worth a traceback.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive
    # clients wait for a delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ---------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path.startswith(("/onboarding/", "/checkout/")):
            self._hosted_page(method, url.path, body)
            return
        try:
            answer = self._api(method, url.path, url.query if method != "POST" else body)
        except ApiError as error:
            answer = Answer(error.status, error.body)
        fake._log(method, url.path, self.headers.get("Idempotency-Key"), answer)
        if answer.delay_seconds:
            # Stall past the client's timeout; stop() cuts the wait short.
            fake._stopping.wait(answer.delay_seconds)
        if answer.drop_connection:
            self.close_connection = True
            return
        headers = dict(answer.headers)
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        if self.headers.get("Idempotency-Key"):
            headers["Idempotency-Key"] = self.headers["Idempotency-Key"]
        self._send(answer.status, json.dumps(answer.body).encode(), "application/json", headers)

    def _api(self, method: str, path: str, form: str) -> Answer:
        fake = self.server.fake
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth.",
            )
        api_key = auth[len("Bearer ") :]
        if api_key != fake.secret_key:
            raise ApiError(401, f"Invalid API Key provided: {api_key[:8]}****")
        for route_method, name, pattern, handler in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                try:
                    params = parse_form(form)
                except FormError as error:
                    raise ApiError(400, str(error), code="parameter_unknown") from None
                return fake.state.execute(
                    api_key=api_key,
                    method=method,
                    route=name,
                    path=path,
                    params=params,
                    idempotency_key=self.headers.get("Idempotency-Key")
                    if method == "POST"
                    else None,
                    handler=lambda p, h=handler, m=match: h(fake.state, m, p),  # type: ignore[misc]
                )
        raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")

    def _hosted_page(self, method: str, path: str, form: str) -> None:
        state = self.server.fake.state
        kind, _, object_id = path.strip("/").partition("/")
        if kind == "onboarding":
            if method == "POST":
                target = state.submit_onboarding(object_id)
                if target is None:
                    self._send(404, b"unknown onboarding link", "text/plain")
                else:
                    self._redirect(target)
                return
            link, refresh = state.open_link(object_id)
            if link is None:
                if refresh is None:
                    self._send(404, b"unknown onboarding link", "text/plain")
                else:
                    self._redirect(refresh)
                return
            account = html.escape(str(link["account"]))
            self._send(200, _ONBOARDING_PAGE.format(account=account).encode(), "text/html")
            return
        try:
            session = state.checkout_session(object_id)
        except ApiError:
            self._send(404, b"unknown checkout session", "text/plain")
            return
        if session["status"] == "expired":
            if method == "POST":
                self._redirect(str(session.get("cancel_url") or "/"))
            else:
                self._send(200, _EXPIRED_PAGE.encode(), "text/html")
            return
        if method == "POST":
            if session["status"] == "open":
                state.complete_checkout(object_id)
            target = str(session.get("success_url") or "/")
            self._redirect(target.replace("{CHECKOUT_SESSION_ID}", object_id))
            return
        amount = f"{session['amount_total']} {str(session['currency']).upper()} (minor units)"
        self._send(200, _CHECKOUT_PAGE.format(amount=html.escape(amount)).encode(), "text/html")

    def _redirect(self, location: str) -> None:
        self._send(303, b"", "text/plain", {"Location": location})

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(7))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


_ONBOARDING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Stripe onboarding</title></head>
<body>
<h1>Set up payouts</h1>
<p>Connected account <code>{account}</code> (fake Stripe, test mode).</p>
<form method="post">
<button type="submit">Complete onboarding</button>
</form>
</body></html>
"""

_CHECKOUT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Stripe checkout</title></head>
<body>
<h1>Pay {amount}</h1>
<form method="post">
<button type="submit">Pay</button>
</form>
</body></html>
"""


_EXPIRED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Stripe checkout</title></head>
<body><h1>This checkout session has expired</h1></body></html>
"""


class FakeStripe:
    """A running fake Stripe Connect server and the handles a test needs.

    >>> with FakeStripe.running() as fake:  # doctest: +SKIP
    ...     provider = StripeConnectProvider(fake.secret_key, fake.webhook_secret,
    ...                                      api_base=fake.api_base)
    """

    def __init__(
        self,
        *,
        secret_key: str | None = None,
        webhook_secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.secret_key = secret_key or "sk_test_fake_" + secrets.token_hex(12)
        self.webhook_secret = webhook_secret or "whsec_fake_" + secrets.token_hex(16)
        #: Where :meth:`deliver` posts events when no ``to`` is given.
        self.webhook_url: str | None = None
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.state = FakeStripeState(public_base=lambda: self.api_base)

    # -- lifecycle --------------------------------------------------------

    @classmethod
    @contextmanager
    def running(cls, **options: Any) -> Iterator[FakeStripe]:
        """Start on a free loopback port, stop on exit."""
        fake = cls(**options)
        fake.start()
        try:
            yield fake
        finally:
            fake.stop()

    def start(self) -> None:
        server = _Server((self._host, self._port), _RequestHandler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def api_base(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Stripe server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- clock and faults -------------------------------------------------

    @property
    def now(self) -> int:
        """The fake's clock (Unix seconds); ``created`` fields and key expiry use it."""
        return self.state.now

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> None:
        """Move the fake's clock forward (idempotency keys expire after 24 h)."""
        self.state.advance(((days * 24 + hours) * 60 + minutes) * 60 + seconds)

    def fail_next(
        self,
        kind: str,
        *,
        endpoint: str = "POST /v1/transfers",
        times: int = 1,
        seconds: float = 3.0,
    ) -> None:
        """Arm a failure for the next ``times`` executions of ``endpoint``.

        Kinds: ``transfer_500_after_create``, ``transfer_500_before_create``,
        ``timeout`` (stall ``seconds`` after executing), ``connection_drop``,
        ``insufficient_balance``, ``rate_limit``. Replays of a stored
        idempotent answer do not consume a fault.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        self.state.fail_next(kind, endpoint=endpoint, times=times, seconds=seconds)

    # -- money and objects ------------------------------------------------

    def set_balance(self, amount_cents: int, currency: str = "usd") -> None:
        """Set the platform's available balance that transfers draw from."""
        with self.state.lock:
            self.state.balance[currency] = amount_cents

    def available_balance(self, currency: str = "usd") -> int:
        with self.state.lock:
            return self.state.balance.get(currency, 0)

    def account(self, account_id: str) -> dict[str, Any]:
        with self.state.lock:
            return snapshot(self.state.accounts[account_id])

    def transfers(self, *, transfer_group: str | None = None) -> list[dict[str, Any]]:
        """Every transfer the fake holds (oldest first), optionally for one group."""
        with self.state.lock:
            rows = list(self.state.transfers.values())
            if transfer_group is not None:
                rows = [t for t in rows if t["transfer_group"] == transfer_group]
            return snapshot(rows)

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """What the hosted onboarding form does, without a browser."""
        return self.state.complete_onboarding(account_id)

    def disable_payouts(
        self,
        account_id: str,
        *,
        reason: str = "requirements.past_due",
        currently_due: tuple[str, ...] = ("individual.verification.document",),
    ) -> dict[str, Any]:
        """Stripe needs more information: payouts off, ``account.updated`` emitted."""
        return self.state.disable_payouts(account_id, reason=reason, currently_due=currently_due)

    def deauthorize(self, account_id: str) -> dict[str, Any]:
        """The creator disconnected the platform: ``account.application.deauthorized``."""
        return self.state.deauthorize(account_id)

    def reverse_transfer(self, transfer_id: str, amount_cents: int | None = None) -> dict[str, Any]:
        """Reverse (part of) a transfer as the dashboard would: ``transfer.reversed``."""
        params = {} if amount_cents is None else {"amount": str(amount_cents)}
        with self.state.lock:
            reversal: dict[str, Any] = self.state.reverse_transfer(transfer_id, params)[1]
            return reversal

    def fail_payout(
        self,
        account_id: str,
        amount_cents: int,
        currency: str = "usd",
        *,
        failure_code: str = "account_closed",
    ) -> dict[str, Any]:
        """The connected account's bank payout bounced: ``payout.failed``."""
        return self.state.fail_payout(account_id, amount_cents, currency, failure_code)

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer paid: ``checkout.session.completed``, balance grows."""
        return self.state.complete_checkout(session_id)

    def pay_checkout(
        self, session_id: str, *, to: str | Callable[[bytes, str], int] | None = None
    ) -> list[Delivery]:
        """The customer pays on the hosted page and Stripe delivers the signed webhook.

        Completes the session, then delivers every pending event (the
        ``checkout.session.completed`` among them) as :meth:`deliver` does.
        """
        self.complete_checkout(session_id)
        return self.deliver(to=to)

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        """A snapshot of a checkout session (status, amount, metadata, url)."""
        with self.state.lock:
            return snapshot(self.state.checkout_session(session_id))

    def checkout_sessions(self) -> list[dict[str, Any]]:
        """Every checkout session so far, oldest first."""
        with self.state.lock:
            return snapshot(list(self.state.checkout_sessions.values()))

    def emit(
        self, type: str, obj: Mapping[str, Any], *, account: str | None = None
    ) -> dict[str, Any]:
        """Queue any event, for cases the helpers above do not cover."""
        return self.state.emit(type, obj, account=account)

    # -- webhooks ---------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """Every event so far, oldest first."""
        with self.state.lock:
            return list(self.state.events)

    def pending_events(self) -> list[dict[str, Any]]:
        """Events not yet delivered successfully, oldest first."""
        with self.state.lock:
            return list(self.state.pending)

    def signed(
        self,
        event: Mapping[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> tuple[bytes, str]:
        """``(payload, Stripe-Signature header)`` for ``event``.

        The timestamp defaults to the real wall clock, not the fake's: the
        receiver checks it against its own clock (300 s tolerance).
        """
        payload = json.dumps(event, indent=2).encode()
        when = int(time.time()) if timestamp is None else timestamp
        return payload, sign_payload(payload, secret or self.webhook_secret, when)

    def deliver(
        self,
        *,
        to: str | Callable[[bytes, str], int] | None = None,
        order: str = "created",
        duplicate: bool = False,
    ) -> list[Delivery]:
        """Deliver the pending events and return each attempt.

        ``to`` is a URL (default :attr:`webhook_url`) or a callable
        ``(payload, signature_header) -> status`` (e.g. around a Flask test
        client). ``order="reversed"`` delivers newest first; ``duplicate``
        sends every event twice. Events the receiver does not accept with a
        2xx stay pending, as Stripe would retry them.
        """
        target = to if to is not None else self.webhook_url
        if target is None:
            raise RuntimeError("set fake.webhook_url or pass to=")
        if order not in ("created", "reversed"):
            raise ValueError("order must be 'created' or 'reversed'")
        with self.state.lock:
            batch = list(self.state.pending)
        if order == "reversed":
            batch.reverse()
        attempts: list[Delivery] = []
        for event in batch:
            accepted = False
            for _ in range(2 if duplicate else 1):
                payload, signature = self.signed(event)
                status = self._post(target, payload, signature)
                attempts.append(Delivery(event["id"], event["type"], status))
                accepted = accepted or 200 <= status < 300
            if accepted:
                with self.state.lock:
                    self.state.pending = [e for e in self.state.pending if e["id"] != event["id"]]
        return attempts

    @staticmethod
    def _post(target: str | Callable[[bytes, str], int], payload: bytes, signature: str) -> int:
        if callable(target):
            return int(target(payload, signature))
        try:
            response = requests.post(
                target,
                data=payload,
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                timeout=10,
            )
        except requests.RequestException:
            return 0
        return response.status_code

    # -- inspection -------------------------------------------------------

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """Each API request: method, path, idempotency key, status, replayed."""
        with self.state.lock:
            return list(self.state.request_log)

    def _log(self, method: str, path: str, key: str | None, answer: Answer) -> None:
        with self.state.lock:
            self.state.request_log.append(
                {
                    "method": method,
                    "path": path,
                    "idempotency_key": key,
                    "status": answer.status,
                    "replayed": answer.replayed,
                }
            )
