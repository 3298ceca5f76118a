"""Credit money is explained in words on the platform path: "as sound mixer on Night Film,
through 25% credit pool", on the earnings page, the earnings and revenue API, the claim page,
"credits I hold" and its API, for a linked credit and for an escrow claimed later."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in
from tests.web.test_credits_walk import RecordingMailer

ACTOR = "as actor on Night Film, through 25% credit pool"
MIXER = "as sound mixer on Night Film, through 25% credit pool"


def test_credit_money_is_explained_with_role_work_and_pool_everywhere(
    app: Flask, app_db: Session, app_storage, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    mailer = RecordingMailer()
    services = app.extensions["hitrack"]
    services.extra["mailer"] = mailer
    services.settings = replace(services.settings, claim_dispute_days=0)
    studio, gina, hal = (make_creator(app_db, n) for n in ("Studio", "Gina", "Hal"))
    admin = make_creator(app_db, "Admin", admin=True)
    film = make_record(app_db, app_storage, studio, "Night Film")
    studio_auth = bearer(client, studio.email or "", PASSWORD)
    put = client.put(
        f"/api/v1/works/{film.public_id}/credits",
        json={
            "credit_pool": "1/4",
            "credits": [
                {"creator": gina.handle, "role": "actor", "weight": "3"},
                {"creator": hal.handle, "role": "screenwriter", "weight": "1"},
                {"name": "Kim", "role": "sound mixer", "weight": "1", "email": "kim@x.test"},
            ],
        },
        headers=studio_auth,
    )
    assert put.status_code == 200, put.get_json()
    [invitation] = mailer.sent
    assert invitation.url is not None
    admin_auth = bearer(client, admin.email or "", PASSWORD)
    sale = client.post(
        "/api/v1/revenue",
        json={
            "work": film.public_id,
            "amount": 100_000_000,
            "currency": "USD",
            "external_id": "night-1",
            "fee_rate": "0",
        },
        headers=admin_auth,
    )
    assert sale.status_code == 201, sale.get_json()
    by_creator = {a["creator"]: a for a in sale.get_json()["allocations"]}
    assert by_creator[gina.handle]["amount"] == 15_000_000
    [why] = by_creator[gina.handle]["explanation"]
    assert why == (
        f"Night Film (record) earned 100.00; {ACTOR}, your part is 15%: 15.00 of this sale"
    )
    # The studio's own part says what the pool left it.
    [studio_why] = by_creator[studio.handle]["explanation"]
    assert "Your record Night Film" in studio_why and "after the 25% credit pool" in studio_why

    # Gina, linked from the start: the earnings API and the earnings page.
    gina_auth = bearer(client, gina.email or "", PASSWORD)
    earnings = client.get("/api/v1/me/earnings", headers=gina_auth).get_json()["earnings"]
    assert [line["explanation"] for line in earnings] == [[why]]
    log_in(client, gina.email or "", PASSWORD)
    assert ACTOR in client.get("/me/earnings").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    # Kim, unclaimed: the claim page explains what the escrow holds, before she has an account.
    claim_page = client.get(invitation.url).get_data(as_text=True)
    assert "Held for you: 5.00 USD" in claim_page and MIXER in claim_page

    signup = client.post(
        "/api/v1/auth/register",
        json={"email": "kim@x.test", "password": PASSWORD, "display_name": "Kim"},
    )
    assert signup.status_code == 201
    verified = client.post(
        f"/api/v1/admin/creators/{signup.get_json()['id']}/verify",
        json={"reason": "passport seen"},
        headers=admin_auth,
    )
    assert verified.status_code == 200
    kim_auth = bearer(client, "kim@x.test", PASSWORD)
    log_in(client, "kim@x.test", PASSWORD)
    done = client.post(invitation.url, data={"csrf_token": csrf_token(client, invitation.url)})
    assert done.status_code == 302
    held = client.get("/credits").get_data(as_text=True)
    assert MIXER in held and "5.00 USD" in held
    mine = client.get("/api/v1/me/credits", headers=kim_auth).get_json()
    [escrowed] = mine["escrow_earnings"]
    assert (escrowed["event"], escrowed["amount"]) == ("night-1", 5_000_000)
    [line] = escrowed["explanation"]
    assert line.endswith(f"{MIXER}, your part is 5%: 5.00 of this sale")

    # Later money goes to Kim directly, explained the same way on her earnings.
    api = app.test_client()  # no session cookie: bearer calls need no CSRF token
    again = api.post(
        "/api/v1/revenue",
        json={
            "work": film.public_id,
            "amount": 20_000_000,
            "currency": "USD",
            "external_id": "night-2",
            "fee_rate": "0",
        },
        headers=admin_auth,
    )
    assert again.status_code == 201
    kim_lines = api.get("/api/v1/me/earnings", headers=kim_auth).get_json()["earnings"]
    assert any(MIXER in text for line in kim_lines for text in line["explanation"])
