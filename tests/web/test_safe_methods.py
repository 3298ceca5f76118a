"""GET never changes state: every GET route of the app, walked with real data, writes nothing.

The walk covers the url map as it is, so a GET route added later is checked too
(the test fails if it does not know how to fill in a new route's arguments).
Payouts go through the fake Stripe server, so the connect and onboarding
routes meet a real provider.

One GET writes, on purpose: the page Stripe sends a creator back to after
onboarding stores what Stripe now reports about that creator's own account
(the same write the ``account.updated`` webhook makes). It takes no input
from the request, so a forged navigation can only make the stored status
truer; the test pins that it touches nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from hitrack import providers
from hitrack.services import ai_models, payouts, revenue
from hitrack.services import productions as prod
from hitrack.services.notifications import LogMailer
from tests.factories import PASSWORD, connect, fund, make_creator, make_record, usd
from tests.fake_stripe import FakeStripe
from tests.fake_stripe.fixtures import make_stripe_provider
from tests.web.conftest import csrf_token, log_in

WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE")
PROVIDER_SYNC = {"payouts.returned": "UPDATE payout_accounts"}
# What the walk fills each URL argument with, per endpoint where it differs.
PRODUCTION_ENDPOINTS = {
    "productions.show",
    "productions.edit",
    "api.productions.get_production",
    "api.productions.preview",
    "calls.new",
    "productions.finalize",
}
CALL_ENDPOINTS = {"calls.show", "api.calls.api_get"}
MODEL_ENDPOINTS = {
    "models.show",
    "models.new_version",
    "api.productions.get_model",
    "manifests.upload_page",
    "attribution.outputs",
    "api.attribution.list_outputs",
}


@pytest.fixture
def seeded(app: Flask, app_db: Session, app_storage, fake_stripe: FakeStripe) -> dict[str, str]:  # type: ignore[no-untyped-def]
    admin = make_creator(app_db, "Admin", admin=True)
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    shore = make_record(app_db, app_storage, bo, "Shoreline", ai_training=True)
    own = make_record(app_db, app_storage, ana, "Tide", sources={shore.public_id: "0.5"})
    production = prod.create_production(
        app_db,
        ana,
        title="Night Swim",
        contributions=prod.parse_contributions({own.public_id: "0.5"}),
    )
    now = datetime.now(UTC)
    prod.publish_proposal(
        app_db, ana, production.public_id, window=timedelta(0), retained="0.5", now=now
    )
    prod.finalize(app_db, ana, production.public_id, now=now + timedelta(seconds=1))
    model = ai_models.register_model(
        app_db, ana, name="Tide model", manifest={shore.public_id: "1"}
    ).model
    event_id = "audit-event-1"
    revenue.record_revenue(
        app_db,
        admin,
        {
            "work": production.public_id,
            "amount": usd(40),
            "currency": "USD",
            "external_id": event_id,
        },
        default_fee_rate=Fraction(0),
    )
    connect(app_db, ana, "manual")
    fund(app_db, ana, usd(20))
    run = payouts.run_payouts(
        app_db,
        providers.payout_provider(app.extensions["hitrack"].settings),
        started_by=admin,
        minimums={"USD": usd(10)},
        mailer=LogMailer(),
    )
    stripe = make_stripe_provider(fake_stripe)
    app.extensions["hitrack"].extra["payouts"] = stripe
    payouts.connect_account(app_db, stripe, ana)  # mid-onboarding, not payable yet
    from hitrack.jobs.database import DatabaseQueue
    from hitrack.services import payout_runs

    job = payout_runs.submit_payout_run(app_db, DatabaseQueue(), admin)  # queued, never run
    from hitrack.mail import Email
    from hitrack.services import accounts

    class Outbox:
        sent: list[Email] = []

        def send(self, email: Email) -> None:
            self.sent.append(email)

    outbox = Outbox()
    accounts.request_password_reset(app_db, bo.email, mailer=outbox, lifetime=timedelta(hours=1))
    [reset_mail] = outbox.sent
    from hitrack.services import credits as credit_service

    credit_service.set_credits(
        app_db,
        ana,
        own.public_id,
        credit_service.CreditsInput(
            (credit_service.CreditEntry(name="Kim", role="sound mixer", email="kim@audit.test"),),
            "1/4",
        ),
        min_credit_pool=Fraction(1, 10),
        mailer=outbox,
    )
    invite_mail = outbox.sent[-1]
    from hitrack.services import attribution, calls

    call = calls.open_call(
        app_db,
        ana,
        prod.create_production(app_db, ana, title="Dawn").public_id,
        calls.CallInput("A cello line", "", now + timedelta(days=3), ["audio"]),
        now=now,
    )
    output = attribution.submit_output(
        app_db,
        app_storage,
        ana,
        model.public_id,
        attribution.OutputSubmission(scores={shore.public_id: 1}),
    )
    return {
        "output_id": output.public_id,
        "call": call.public_id,
        "handle": ana.handle,
        "invitation": (invite_mail.url or "").rsplit("/", 1)[-1],
        "token": (reset_mail.url or "").rsplit("/", 1)[-1],
        "job_id": job.public_id,
        "admin": admin.email or "",
        "ana": ana.email or "",
        "record": own.public_id,
        "production": production.public_id,
        "model": model.public_id,
        "run_id": run.public_id,
        "external_id": event_id,
    }


def arguments(endpoint: str, names: set[str], seeded: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in names:
        if name == "public_id":
            values[name] = seeded[
                "production"
                if endpoint in PRODUCTION_ENDPOINTS
                else "model"
                if endpoint in MODEL_ENDPOINTS
                else "call"
                if endpoint in CALL_ENDPOINTS
                else "record"
            ]
        elif name in (
            "run_id",
            "external_id",
            "job_id",
            "token",
            "invitation",
            "output_id",
            "handle",
        ):
            values[name] = seeded[name]
        else:
            pytest.fail(f"the audit does not know how to fill {name!r} of {endpoint}")
    return values


@pytest.fixture
def writes(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement: str, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement.split("\n")[0][:120])

    event.listen(connection, "before_cursor_execute", record)
    yield seen
    event.remove(connection, "before_cursor_execute", record)


def test_no_get_route_writes_to_the_database(
    app: Flask, client: FlaskClient, seeded: dict[str, str], writes: list[str]
) -> None:
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.endpoint != "static"
    ]
    assert len(rules) > 40  # the walk really covers the app
    answered: dict[str, list[int]] = {rule.rule: [] for rule in rules}
    for viewer in ("ana", "admin"):
        log_in(client, seeded[viewer], PASSWORD)
        writes.clear()
        for rule in rules:
            with app.test_request_context():
                url = url_for(
                    rule.endpoint, **arguments(rule.endpoint, set(rule.arguments), seeded)
                )
            response = client.get(url)
            answered[rule.rule].append(response.status_code)
            assert response.status_code < 500 and response.status_code != 405, url
            allowed = PROVIDER_SYNC.get(rule.endpoint)
            wrote = [w for w in writes if allowed is None or not w.startswith(allowed)]
            assert wrote == [], f"GET {url} as {viewer} wrote: {wrote}"
            writes.clear()
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    # Each route did its work for at least one of the two viewers.
    refused = {rule: codes for rule, codes in answered.items() if min(codes) >= 400}
    assert refused == {}
