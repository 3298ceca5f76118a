"""Content Credentials through the platform: downloads are signed, uploads are read back.

The round trip a user takes: upload a record, remix it, download the remix
(it carries a manifest naming its source and share), upload that file again:
the platform proposes the remix and its source as the new upload's sources.
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from hitrack.provenance import read_credentials
from hitrack.services.demo import solid_png
from tests.factories import PASSWORD, make_creator
from tests.web.conftest import bearer, csrf_token, log_in

ORIGINAL = solid_png((10, 200, 30), size=8)
REMIX = solid_png((10, 30, 200), size=8)


@pytest.fixture
def ana(app_db):  # type: ignore[no-untyped-def]
    return make_creator(app_db, "Ana")


@pytest.fixture
def auth(client, ana):  # type: ignore[no-untyped-def]
    return bearer(client, ana.email, PASSWORD)


def upload(client, auth, data, title, **fields):  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/records",
        headers=auth,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), f"{title}.png"), "title": title, **fields},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def trust(app):  # type: ignore[no-untyped-def]
    from hitrack.providers import trust_anchors

    return trust_anchors(app.extensions["hitrack"].settings)


def test_a_downloaded_remix_names_its_source_and_a_reupload_proposes_both(app, client, auth):
    shoreline = upload(client, auth, ORIGINAL, "Shoreline")
    tide = upload(client, auth, REMIX, "Tide", sources=json.dumps({shoreline["id"]: "1/4"}))

    download = client.get(f"/api/v1/records/{tide['id']}/media", headers=auth)
    assert download.status_code == 200, download.get_data()[:300]
    signed = download.get_data()
    assert signed != REMIX and int(download.headers["Content-Length"]) == len(signed)
    report = read_credentials(io.BytesIO(signed), "image/png", trust_anchors=trust(app))
    assert report.state == "Trusted" and report.subject_work_id == tide["id"]
    assert [(c.work_id, c.relationship, c.share, c.sha256) for c in report.ingredients] == [
        (shoreline["id"], "parentOf", "0.25", shoreline["media"]["sha256"])
    ]

    again = client.get(f"/api/v1/records/{tide['id']}/media", headers=auth)
    assert again.get_data() == signed  # the signed copy is kept, not signed anew

    copy = upload(client, auth, signed, "Tide again")
    credentials = copy["content_credentials"]
    assert credentials["state"] == "Trusted" and credentials["usable"]
    assert [(p["work"], p["share"], p["matched_by"]) for p in credentials["proposed_sources"]] == [
        (tide["id"], None, "hitrack id"),
        (shoreline["id"], "0.25", "hitrack id"),
    ]
    assert copy["sources"] == []  # proposed, never cited on the uploader's behalf


def test_the_owner_sees_the_proposals_on_the_work_page_and_cites_one(app, client, ana, auth):
    shoreline = upload(client, auth, ORIGINAL, "Shoreline")
    tide = upload(client, auth, REMIX, "Tide", sources=json.dumps({shoreline["id"]: "1/4"}))
    signed = client.get(f"/api/v1/records/{tide['id']}/media", headers=auth).get_data()
    copy = upload(client, auth, signed, "Tide again")

    log_in(client, ana.email, PASSWORD)
    page = client.get(f"/works/{copy['id']}").get_data(as_text=True)
    assert 'id="proposed-sources"' in page and "Shoreline" in page and "Trusted" in page
    token = csrf_token(client, f"/works/{copy['id']}")
    cited = client.post(
        f"/works/{copy['id']}/sources",
        data={"csrf_token": token, "source": shoreline["id"], "share": "0.25"},
    )
    assert cited.status_code == 302
    after = client.get(f"/api/v1/works/{copy['id']}").get_json()
    assert [(s["work"], s["share"]) for s in after["sources"]] == [(shoreline["id"], "0.25")]

    stranger = make_creator(app.extensions["hitrack"].sessions(), "Stranger")
    visitor = app.test_client()
    other = bearer(visitor, stranger.email, PASSWORD)
    seen_by_stranger = visitor.get(f"/api/v1/works/{copy['id']}", headers=other).get_json()
    assert seen_by_stranger["content_credentials"]["state"] == "Trusted"
    assert "proposed_sources" not in seen_by_stranger["content_credentials"]


def test_a_tampered_file_is_reported_and_nothing_in_it_is_proposed(client, auth):
    shoreline = upload(client, auth, ORIGINAL, "Shoreline")
    tide = upload(client, auth, REMIX, "Tide", sources=json.dumps({shoreline["id"]: "1/4"}))
    signed = bytearray(client.get(f"/api/v1/records/{tide['id']}/media", headers=auth).get_data())
    position = signed.find(REMIX[len(REMIX) // 2 : len(REMIX) // 2 + 4])
    signed[position] ^= 0xFF

    copy = upload(client, auth, bytes(signed), "Tampered")
    credentials = copy["content_credentials"]
    assert credentials["state"] == "Invalid" and not credentials["usable"]
    assert credentials["problems"] and credentials["proposed_sources"] == []


def test_ingredients_naming_works_that_do_not_exist_propose_nothing(app, client, auth):
    from hitrack.provenance import Ingredient, Subject, manifest_definition
    from hitrack.providers import provenance_signer

    subject = Subject(
        "rec_gone",
        "record",
        "Elsewhere",
        "image/png",
        "https://elsewhere.test/w",
        ingredients=[Ingredient("rec_never_made", "Phantom", "1/2", sha256="ab" * 32)],
    )
    out = io.BytesIO()
    provenance_signer(app.extensions["hitrack"].settings).sign(
        manifest_definition(subject), "image/png", io.BytesIO(ORIGINAL), out
    )
    copy = upload(client, auth, out.getvalue(), "Foreign")
    credentials = copy["content_credentials"]
    assert credentials["state"] == "Trusted" and credentials["ingredient_count"] == 1
    assert credentials["proposed_sources"] == []


def test_a_private_source_stays_private_in_a_public_remix_s_credentials(app, client, auth):
    secret = upload(client, auth, ORIGINAL, "Secret demo", visibility="private")
    public = upload(client, auth, REMIX, "Public cut", sources=json.dumps({secret["id"]: "1/2"}))
    signed = client.get(f"/api/v1/records/{public['id']}/media", headers=auth).get_data()
    report = read_credentials(io.BytesIO(signed), "image/png", trust_anchors=trust(app))
    assert [(c.title, c.work_id, c.share) for c in report.ingredients] == [
        ("a private work", None, "0.5")
    ]
    assert b"Secret demo" not in signed


def test_a_text_record_is_served_unsigned_and_the_reason_logged(client, auth, caplog):
    caplog.set_level(logging.INFO, logger="hitrack.services.provenance")
    response = client.post(
        "/api/v1/records",
        headers=auth,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"a poem\n"), "poem.txt"), "title": "Poem"},
    )
    poem = response.get_json()
    download = client.get(f"/api/v1/records/{poem['id']}/media", headers=auth)
    assert download.get_data() == b"a poem\n"
    assert "content_credentials" not in poem
    assert any("served unsigned" in r.getMessage() for r in caplog.records)
