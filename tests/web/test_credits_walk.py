"""The credits walk through the API and the pages: a studio credits three people on a film
record (one unclaimed), the film earns, the unclaimed person signs up, is verified by an admin,
claims from the invitation link and sees the escrowed money as theirs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator
from hitrack.mail import Email
from hitrack.services import credits as credit_service
from hitrack.services import ledger
from tests.factories import PASSWORD, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in


@dataclass
class RecordingMailer:
    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> None:
        self.sent.append(email)


def test_the_credits_walk(app: Flask, app_db: Session, app_storage, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    mailer = RecordingMailer()
    app.extensions["hitrack"].extra["mailer"] = mailer
    services = app.extensions["hitrack"]
    services.settings = replace(services.settings, claim_dispute_days=0)
    studio, gina, hal = (make_creator(app_db, n) for n in ("Studio", "Gina", "Hal"))
    admin = make_creator(app_db, "Admin", admin=True)
    film = make_record(app_db, app_storage, studio, "Night Film")
    studio_auth = bearer(client, studio.email or "", PASSWORD)

    bad = client.put(
        f"/api/v1/works/{film.public_id}/credits",
        json={
            "credit_pool": "1/4",
            "credits": [{"name": "X", "role": "best boy", "email": "x@x.test"}],
        },
        headers=studio_auth,
    )
    assert bad.status_code == 422 and "credit 1 (X)" in bad.get_json()["error"]["message"]
    put = client.put(
        f"/api/v1/works/{film.public_id}/credits",
        json={
            "credit_pool": "1/4",
            "credits": [
                {"creator": gina.handle, "role": "actor", "weight": "3"},
                {"creator": hal.handle, "role": "screenwriter", "weight": 1},
                {"name": "Kim", "role": "sound mixer", "weight": "1", "email": "kim@walk.test"},
            ],
        },
        headers=studio_auth,
    )
    assert put.status_code == 200, put.get_json()
    kim_credit = put.get_json()["credits"][2]
    assert kim_credit["payee"] == f"credit:{kim_credit['id']}"
    [invitation] = mailer.sent
    assert invitation.to == "kim@walk.test" and invitation.url is not None

    page = client.get(f"/works/{film.public_id}").get_data(as_text=True)
    assert "sound mixer" in page and "Held for" not in page  # escrow is the owners' and admins'
    for who in (studio, admin):
        browser = app.test_client()
        log_in(browser, who.email or "", PASSWORD)
        page = browser.get(f"/works/{film.public_id}").get_data(as_text=True)
        assert "Held for 1 person" in page and "Escrow report" in page

    admin_auth = bearer(client, admin.email or "", PASSWORD)
    sale = client.post(
        "/api/v1/revenue",
        json={
            "work": film.public_id,
            "amount": 100_000_000,
            "currency": "USD",
            "external_id": "walk-1",
        },
        headers=admin_auth,
    )
    assert sale.status_code in (200, 201), sale.get_json()
    escrow = client.get(f"/api/v1/works/{film.public_id}/escrow", headers=studio_auth).get_json()
    assert escrow["held_for"] == 1 and escrow["credits"][0]["held"] == {"USD": 5_000_000}
    admin_browser = app.test_client()
    log_in(admin_browser, admin.email or "", PASSWORD)
    report = admin_browser.get("/admin/escrow").get_data(as_text=True)
    assert "Held for 1 person." in report and "Kim" in report and "5.00 USD" in report
    outsider = app.test_client()
    log_in(outsider, hal.email or "", PASSWORD)
    assert outsider.get("/admin/escrow").status_code == 403
    assert outsider.get(f"/works/{film.public_id}/escrow").status_code == 403

    signup = client.post(
        "/api/v1/auth/register",
        json={"email": "kim@walk.test", "password": PASSWORD, "display_name": "Kim"},
    )
    assert signup.status_code == 201, signup.get_json()
    kim_handle = signup.get_json()["id"]
    refused = client.post(
        f"/api/v1/credits/{kim_credit['id']}/claim",
        json={"token": invitation.url.rsplit("/", 1)[1]},
        headers=bearer(client, "kim@walk.test", PASSWORD),
    )
    assert refused.status_code == 403 and "verified" in refused.get_json()["error"]["message"]
    verified = client.post(
        f"/api/v1/admin/creators/{kim_handle}/verify",
        json={"reason": "passport seen on a video call"},
        headers=admin_auth,
    )
    assert verified.status_code == 200, verified.get_json()

    log_in(client, "kim@walk.test", PASSWORD)
    claim_page = client.get(invitation.url).get_data(as_text=True)
    assert "Held for you: 5.00 USD" in claim_page
    done = client.post(invitation.url, data={"csrf_token": csrf_token(client, invitation.url)})
    assert done.status_code == 302
    held = client.get("/credits").get_data(as_text=True)
    assert "Night Film" in held and "claimed" in held
    kim = app_db.scalar(select(Creator).where(Creator.handle == kim_handle))
    assert kim is not None
    assert ledger.creator_balances(app_db, kim.id) == {"USD": 5_000_000}
    assert (
        credit_service.escrow_balances(app_db, credit_service.get_credit(app_db, kim_credit["id"]))
        == {}
    )
    assert client.get(invitation.url).status_code == 404  # the link worked once
    assert ledger.check_invariants(app_db) == []
