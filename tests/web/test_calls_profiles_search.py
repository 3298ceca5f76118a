"""Open calls, profiles, search, following and notification settings, through pages and API."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from hitrack.services import ai_models, calls, follows, productions
from tests.factories import PASSWORD, WAV, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in

FUTURE = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()


def _production(app_db, app_storage):  # type: ignore[no-untyped-def]
    pat = make_creator(app_db, "Pat Producer")
    base = make_record(app_db, app_storage, pat, "Harbour base track", data=WAV)
    production = productions.create_production(
        app_db,
        pat,
        title="Harbour film",
        contributions=[productions.ContributionInput(base.public_id, "1/2", "composer")],
    )
    return pat, base, production


def test_a_call_opened_found_answered_and_picked_through_the_pages(app_db, app_storage, client):
    pat, base, production = _production(app_db, app_storage)
    log_in(client, pat.email, PASSWORD)
    new = f"/productions/{production.public_id}/calls/new"
    assert "Open a call for contributions" in client.get(
        f"/productions/{production.public_id}"
    ).get_data(as_text=True)
    response = client.post(
        new,
        data={
            "csrf_token": csrf_token(client, new),
            "title": "A cello line",
            "description": "slow, in D",
            "deadline": FUTURE,
            "media_kinds": ["audio"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    call_url = response.headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    cleo = make_creator(app_db, "Cleo Cellist")
    log_in(client, cleo.email, PASSWORD)
    assert "A cello line" in client.get("/").get_data(as_text=True)  # the home page lists it
    found = client.get("/search?q=cello").get_data(as_text=True)
    assert call_url in found
    response = client.post(
        f"{call_url}/answers",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(client, call_url),
            "title": "Cleo's cello",
            "file": (io.BytesIO(WAV), "cello.wav"),
            "source_id": [base.public_id],
            "source_share": ["10%"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [answer] = calls.call_view(app_db, None, call_url.rsplit("/", 1)[1]).answers
    assert answer.record.sources[0].share == Fraction(1, 10)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    log_in(client, pat.email, PASSWORD)
    response = client.post(
        f"{call_url}/pick",
        data={
            "csrf_token": csrf_token(client, call_url),
            "record": answer.record.public_id,
            "share": "1/4",
            "credit_role": "musician",
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Cleo Cellist" in page and f"/@{cleo.handle}" in page  # in the preview, linked


def test_call_api_refuses_bad_input(app_db, app_storage, client):
    pat, base, production = _production(app_db, app_storage)
    stranger = make_creator(app_db, "Sam")
    pat_auth = bearer(client, pat.email, PASSWORD)
    sam_auth = bearer(client, stranger.email, PASSWORD)
    url = f"/api/v1/productions/{production.public_id}/calls"
    past = client.post(
        url,
        headers=pat_auth,
        json={"title": "x", "deadline": "2020-01-01", "media_kinds": ["audio"]},
    )
    assert past.status_code == 409 and "in the past" in past.get_json()["error"]["message"]
    assert (
        client.post(
            "/api/v1/productions/p0000000000/calls",
            headers=pat_auth,
            json={"title": "x", "deadline": FUTURE, "media_kinds": ["audio"]},
        ).status_code
        == 404
    )
    created = client.post(
        url, headers=pat_auth, json={"title": "Cello", "deadline": FUTURE, "media_kinds": ["audio"]}
    )
    assert created.status_code == 201, created.get_json()
    call_id = created.get_json()["id"]

    wrong_kind = client.post(
        f"/api/v1/calls/{call_id}/answers",
        headers=sam_auth,
        data={"title": "A picture", "file": (io.BytesIO(make_png()), "p.png")},
        content_type="multipart/form-data",
    )
    assert wrong_kind.status_code == 422, wrong_kind.get_json()
    answered = client.post(
        f"/api/v1/calls/{call_id}/answers",
        headers=sam_auth,
        data={
            "title": "Cello",
            "file": (io.BytesIO(WAV), "c.wav"),
            "sources": json.dumps({base.public_id: "1/3"}),
        },
        content_type="multipart/form-data",
    )
    assert answered.status_code == 201, answered.get_json()
    record = answered.get_json()["record"]
    by_stranger = client.post(
        f"/api/v1/calls/{call_id}/picks", headers=sam_auth, json={"record": record, "share": "1/4"}
    )
    assert by_stranger.status_code == 403
    picked = client.post(
        f"/api/v1/calls/{call_id}/picks", headers=pat_auth, json={"record": record, "share": "25%"}
    )
    assert picked.status_code == 200 and picked.get_json()["status"] == "picked"
    shown = client.get(f"/api/v1/calls/{call_id}").get_json()
    assert shown["answers"][0]["status"] == "picked"

    calls.close_call(app_db, pat, call_id)
    closed = client.post(
        f"/api/v1/calls/{call_id}/answers",
        headers=sam_auth,
        data={"title": "Late", "file": (io.BytesIO(WAV), "c.wav")},
        content_type="multipart/form-data",
    )
    assert closed.status_code == 409


def make_png() -> bytes:
    from tests.factories import PNG

    return PNG


def test_profiles_show_works_and_models_only_when_the_creator_chooses(app_db, app_storage, client):
    ada = make_creator(app_db, "Ada")
    lab = make_creator(app_db, "Lab")
    shore = make_record(app_db, app_storage, ada, "Shoreline", ai_training=True)
    model = ai_models.register_model(
        app_db, lab, name="Sea model", manifest={shore.public_id: "1"}
    ).model
    data = client.get(f"/api/v1/creators/{ada.handle}").get_json()
    assert [w["id"] for w in data["works"]] == [shore.public_id]
    assert "models" not in data
    assert client.get("/api/v1/creators/nobody-at-all").status_code == 404

    log_in(client, ada.email, PASSWORD)
    settings = "/settings/notifications"
    response = client.post(
        settings, data={"csrf_token": csrf_token(client, settings), "show_models": "on"}
    )
    assert response.status_code == 302
    data = client.get(f"/api/v1/creators/{ada.handle}").get_json()
    assert [m["id"] for m in data["models"]] == [model.public_id]
    page = client.get(f"/@{ada.handle}").get_data(as_text=True)
    assert "Sea model" in page and "Shoreline" in page


def test_follow_from_a_profile_and_see_the_feed(app_db, app_storage, client):
    ada, fan = make_creator(app_db, "Ada"), make_creator(app_db, "Fan")
    log_in(client, fan.email, PASSWORD)
    profile = f"/@{ada.handle}"
    assert ">Follow<" in client.get(profile).get_data(as_text=True)
    response = client.post(f"{profile}/follow", data={"csrf_token": csrf_token(client, profile)})
    assert response.status_code == 302
    assert ">Unfollow<" in client.get(profile).get_data(as_text=True)
    make_record(app_db, app_storage, ada, "Fresh song")
    assert "Fresh song" in client.get("/feed").get_data(as_text=True)
    work = follows.feed(app_db, fan)[0].work
    page = f"/works/{work.public_id}"
    assert "Follow this work" in client.get(page).get_data(as_text=True)


def test_notification_settings_turn_a_kind_off(app_db, app_storage, client):
    ada = make_creator(app_db, "Ada")
    log_in(client, ada.email, PASSWORD)
    settings = "/settings/notifications"
    page = client.get(settings).get_data(as_text=True)
    assert "Your work is remixed" in page
    data = {"csrf_token": csrf_token(client, settings), "in_app_earned": "on"}
    client.post(settings, data=data)
    page = client.get(settings).get_data(as_text=True)
    assert 'name="in_app_earned" aria-label="Your work earns: on the site" checked' in page
    assert 'name="in_app_remixed" aria-label="Your work is remixed: on the site">' in page


def test_search_api_pages_and_refuses_bad_arguments(app_db, app_storage, client):
    ada = make_creator(app_db, "Ada Harbour")
    tide = make_record(app_db, app_storage, ada, "Tide at the harbour")
    body = client.get("/api/v1/search?q=harbour").get_json()
    assert {(r["type"], r["id"]) for r in body["results"]} >= {
        ("work", tide.public_id),
        ("creator", ada.handle),
    }
    only = client.get("/api/v1/search?q=harbour&kind=creator").get_json()["results"]
    assert [r["id"] for r in only] == [ada.handle]
    for bad in ("kind=song", "sort=loud", "page=0", "media=smell"):
        response = client.get(f"/api/v1/search?q=x&{bad}")
        assert response.status_code == 422, bad
    assert "Tide at the harbour" in client.get("/search?q=tide").get_data(as_text=True)
    suggestions = client.get("/search/works.json?q=tid").get_json()
    assert suggestions == [
        {
            "id": tide.public_id,
            "title": "Tide at the harbour",
            "by": "Ada Harbour",
            "label": f"Tide at the harbour ({tide.public_id})",
        }
    ]


def test_the_remix_form_takes_a_title_and_a_percentage(app_db, app_storage, client):
    ada, bob = make_creator(app_db, "Ada"), make_creator(app_db, "Bob")
    tide = make_record(app_db, app_storage, ada, "Tide")
    make_record(app_db, app_storage, ada, "Twin")
    make_record(app_db, app_storage, bob, "Twin")
    log_in(client, bob.email, PASSWORD)
    form = {
        "csrf_token": csrf_token(client, "/upload"),
        "title": "Tide remix",
        "visibility": "public",
        "file": (io.BytesIO(WAV), "remix.wav"),
        "source_id": ["Tide", f"Twin ({tide.public_id})"],
        "source_share": ["50%", "1/3"],
    }
    response = client.post("/upload", data=form, content_type="multipart/form-data")
    assert response.status_code == 422  # "Twin (id)" names Tide: listed twice
    assert "listed twice" in response.get_data(as_text=True)
    form.update(
        csrf_token=csrf_token(client, "/upload"),
        file=(io.BytesIO(WAV), "remix.wav"),
        source_id=["Tide"],
        source_share=["50%"],
    )
    response = client.post("/upload", data=form, content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 302, text[text.find("<h1>") : text.find("<h1>") + 1500]
    ambiguous = {
        "csrf_token": csrf_token(client, "/upload"),
        "title": "Twin remix",
        "visibility": "public",
        "file": (io.BytesIO(WAV), "remix.wav"),
        "source_id": ["Twin"],
        "source_share": ["1/3"],
    }
    page = client.post("/upload", data=ambiguous, content_type="multipart/form-data")
    assert page.status_code == 422
    assert "several works are titled" in page.get_data(as_text=True)
