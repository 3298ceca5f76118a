"""The records API: auth, upload, media, consent, sources, graph, errors as JSON."""

from __future__ import annotations

import io
import json

import pytest

from hitrack.domain.interchange import load_document
from tests.factories import PASSWORD, PNG, WAV, make_creator, make_record, make_remix
from tests.web.conftest import bearer


@pytest.fixture
def ana(app_db):
    return make_creator(app_db, "Ana")


@pytest.fixture
def auth(client, ana):
    return bearer(client, ana.email, PASSWORD)


def upload(client, auth, data=PNG, name="cover.png", **fields):
    return client.post(
        "/api/v1/records",
        headers=auth,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), name), "title": "Cover", **fields},
    )


def test_register_token_and_me(client):
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "new@example.test", "password": "a long password", "display_name": "New"},
    )
    assert response.status_code == 201 and response.get_json()["id"] == "new"
    auth = bearer(client, "new@example.test", "a long password")
    me = client.get("/api/v1/me", headers=auth).get_json()
    assert me["email"] == "new@example.test" and me["roles"] == ["creator"]
    assert me["payout"] == {
        "provider": "manual",
        "connected": False,
        "payable": False,
        "status": "no payout account yet",
    }


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        json.dumps({"email": "a@b.test"}),
        json.dumps({"email": "a@b.test", "password": 12345678901, "display_name": "A"}),
    ],
)
def test_bad_registration_gets_a_json_error(client, payload):
    response = client.post("/api/v1/auth/register", data=payload, content_type="application/json")
    assert response.status_code == 422
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_without_a_token_the_api_answers_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_upload_a_record_and_download_its_media(client, auth):
    response = upload(client, auth, consent_ai_training="true")
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert record["consent"] == {"remix": True, "ai_training": True}
    assert record["media"]["kind"] == "image" and record["media"]["size"] == len(PNG)
    media = client.get(record["media"]["url"])
    # A download is the uploaded image with the platform's Content Credentials added.
    assert media.data.startswith(PNG[:8]) and media.headers["Content-Type"] == "image/png"
    assert len(media.data) > len(PNG) and b"c2pa" in media.data
    assert client.get(f"/works/{record['id']}/media").data == PNG  # viewed inline: as uploaded
    assert media.headers["X-Content-Type-Options"] == "nosniff"
    assert media.headers["Content-Disposition"].startswith('attachment; filename="cover.png"')
    assert "tdm-reservation" not in media.headers


def test_media_without_ai_consent_reserves_text_and_data_mining(client, auth):
    record = upload(client, auth, data=WAV, name="song.wav").get_json()
    media = client.get(record["media"]["url"])
    assert media.headers["tdm-reservation"] == "1" and media.headers["Content-Type"] == "audio/wav"


@pytest.mark.parametrize(
    "data,name,message",
    [
        (b"", "empty.txt", "empty"),
        (b"MZ\x90\x00\x03", "song.mp3", "type"),
        (b"<html><script>alert(1)</script>", "cover.png", "type"),
        (PNG * 20000, "huge.png", "large"),
    ],
)
def test_malformed_uploads_are_rejected_and_leave_nothing(
    client, auth, app_storage, data, name, message
):
    response = upload(client, auth, data=data, name=name)
    assert response.status_code in (413, 422)
    if response.status_code == 422:
        assert message in response.get_json()["error"]["message"].lower()
    root = app_storage.root if hasattr(app_storage, "root") else None
    assert root is None or not [p for p in root.rglob("*") if p.is_file()]


def test_traversal_file_names_are_never_used_as_keys(client, auth, app_storage):
    record = upload(client, auth, name="../../etc/passwd").get_json()
    assert record["media"]["filename"] == "passwd"
    files = [p for p in app_storage.root.rglob("*") if p.is_file()]
    # The media and its thumbnail (an image), both under generated keys.
    assert len(files) == 2 and not any("passwd" in str(f) for f in files)


def test_remix_through_the_api_and_read_its_graph(client, auth, app_db, app_storage, ana):
    bo = make_creator(app_db, "Bo")
    shoreline = make_record(app_db, app_storage, bo, "Shoreline")
    remix = upload(client, auth, sources=json.dumps({shoreline.public_id: 0.4})).get_json()
    assert remix["sources"] == [{"work": shoreline.public_id, "title": "Shoreline", "share": "0.4"}]
    document = client.get(f"/api/v1/works/{remix['id']}/graph").get_json()
    loaded = load_document(document)
    assert {w.id for w in loaded.works} == {remix["id"], shoreline.public_id}
    assert str(loaded.graph[remix["id"]][shoreline.public_id]["share"]) == "2/5"


def test_cite_a_source_and_errors_name_the_ids(client, auth, app_db, app_storage, ana):
    a = make_record(app_db, app_storage, ana, "A")
    b = make_remix(app_db, app_storage, ana, (a, "0.5"), title="B")
    ok = client.post(
        f"/api/v1/works/{a.public_id}/sources",
        headers=auth,
        json={"source": make_record(app_db, app_storage, ana, "C").public_id, "share": "1/4"},
    )
    assert ok.status_code == 201 and ok.get_json()["retained_share"] == "0.75"
    cycle = client.post(
        f"/api/v1/works/{a.public_id}/sources",
        headers=auth,
        json={"source": b.public_id, "share": "0.1"},
    )
    assert cycle.status_code == 422 and cycle.get_json()["error"]["code"] == "cycle"
    assert b.public_id in cycle.get_json()["error"]["message"]
    too_much = client.post(
        f"/api/v1/works/{b.public_id}/sources",
        headers=auth,
        json={"source": make_record(app_db, app_storage, ana, "D").public_id, "share": "0.6"},
    )
    assert too_much.status_code == 422
    missing = client.post(
        f"/api/v1/works/{a.public_id}/sources",
        headers=auth,
        json={"source": "nope", "share": "0.1"},
    )
    assert missing.status_code == 404
    assert (
        client.post(
            f"/api/v1/works/{a.public_id}/sources", headers=auth, json={"share": "0.1"}
        ).status_code
        == 422
    )


def test_consent_is_changed_only_by_owners(client, auth, app_db, app_storage, ana):
    record = make_record(app_db, app_storage, ana)
    ok = client.put(
        f"/api/v1/records/{record.public_id}/consent", headers=auth, json={"ai_training": True}
    )
    assert ok.status_code == 200 and ok.get_json()["consent"]["ai_training"] is True
    assert (
        client.put(
            f"/api/v1/records/{record.public_id}/consent",
            headers=auth,
            json={"ai_training": "perhaps"},
        ).status_code
        == 422
    )
    assert (
        client.put(
            f"/api/v1/records/{record.public_id}/consent", headers=auth, json={"everything": True}
        ).status_code
        == 422
    )
    bo = make_creator(app_db, "Bo")
    other = bearer(client, bo.email, PASSWORD)
    assert (
        client.put(
            f"/api/v1/records/{record.public_id}/consent",
            headers=other,
            json={"ai_training": False},
        ).status_code
        == 403
    )


def test_openapi_document_lists_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    routed = {
        (rule.rule.replace("<", "{").replace(">", "}"), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.core.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routed <= documented, routed - documented


@pytest.mark.parametrize("sources", ["not json", "[1, 2]", '{"r-missing": "0.1"}', '{"x": 1.5}'])
def test_upload_with_bad_sources_is_refused_and_stores_nothing(client, auth, app_storage, sources):
    response = upload(client, auth, sources=sources)
    assert response.status_code in (404, 422)
    assert set(response.get_json()["error"]) == {"code", "message"}
    assert not [p for p in app_storage.root.rglob("*") if p.is_file()]


def test_upload_without_a_file_or_title_is_refused(client, auth):
    no_file = client.post(
        "/api/v1/records",
        headers=auth,
        content_type="multipart/form-data",
        data={"title": "Nothing"},
    )
    assert no_file.status_code == 422 and "file" in no_file.get_json()["error"]["message"]
    no_title = client.post(
        "/api/v1/records",
        headers=auth,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(PNG), "a.png")},
    )
    assert no_title.status_code == 422 and "title" in no_title.get_json()["error"]["message"]
