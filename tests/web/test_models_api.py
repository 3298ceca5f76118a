"""The models API: registration by id or content hash, consent refusals, versions; TDMRep on media."""

from __future__ import annotations

import hashlib
import re

import pytest

from hitrack.services import records
from hitrack.services.ai_models import models_of
from tests.factories import PASSWORD, PNG, WAV, make_creator, make_record
from tests.web.conftest import bearer, log_in


@pytest.fixture
def corpus(app_db, app_storage):  # type: ignore[no-untyped-def]
    ana, lab = make_creator(app_db, "Ana"), make_creator(app_db, "Lab")
    return {
        "ana": ana,
        "lab": lab,
        "open": make_record(app_db, app_storage, ana, "Shoreline", ai_training=True, data=WAV),
        "closed": make_record(app_db, app_storage, ana, "Sketch", ai_training=False, data=PNG),
    }


@pytest.fixture
def lab(client, corpus):  # type: ignore[no-untyped-def]
    return bearer(client, corpus["lab"].email, PASSWORD)


def test_register_a_model_by_content_hash_and_read_it_back(client, corpus, lab):
    unknown = hashlib.sha256(b"elsewhere").hexdigest()
    response = client.post(
        "/api/v1/models",
        headers=lab,
        json={
            "name": "Wave",
            "version": "1.0",
            "retained": "0.5",
            "attribution_weight": "1/4",
            "manifest": {f"sha256:{hashlib.sha256(WAV).hexdigest()}": 1, unknown: 2},
        },
    )
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert [m["record"] for m in answer["matched"]] == [corpus["open"].public_id]
    assert answer["unmatched_hashes"] == [unknown]
    model = answer["model"]
    assert (
        model["kind"] == "model"
        and model["version"] == "1.0"
        and model["attribution_weight"] == "0.25"
    )
    assert model["manifest"] == [
        {
            "record": corpus["open"].public_id,
            "title": "Shoreline",
            "share": "0.5",
            "sha256": hashlib.sha256(WAV).hexdigest(),
            "consent": {"at_registration": True, "now": True, "revoked_at": None},
        }
    ]
    assert client.get(f"/api/v1/models/{model['id']}").get_json()["retained_share"] == "0.5"


def test_a_non_consented_record_is_refused_by_name_and_nothing_is_stored(
    app_db, client, corpus, lab
):
    response = client.post(
        "/api/v1/models",
        headers=lab,
        json={
            "name": "Wave",
            "manifest": {corpus["open"].public_id: 1, corpus["closed"].public_id: 1},
        },
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "consent_required" and corpus["closed"].public_id in error["message"]
    assert models_of(app_db, corpus["lab"]) == []


def test_revocation_blocks_new_versions_and_shows_on_the_old_one(app_db, client, corpus, lab):
    model = client.post(
        "/api/v1/models",
        headers=lab,
        json={"name": "Wave", "manifest": {corpus["open"].public_id: 1}},
    ).get_json()["model"]
    records.set_consent(app_db, corpus["ana"], corpus["open"].public_id, ai_training=False)
    response = client.post(
        f"/api/v1/models/{model['id']}/versions",
        headers=lab,
        json={"version": "2", "manifest": {corpus["open"].public_id: 1}},
    )
    assert (
        response.status_code == 422 and response.get_json()["error"]["code"] == "consent_required"
    )
    [line] = client.get(f"/api/v1/models/{model['id']}").get_json()["manifest"]
    assert line["consent"]["now"] is False and line["consent"]["revoked_at"]


def test_a_new_version_joins_the_family(app_db, app_storage, client, corpus, lab):
    other = make_record(
        app_db, app_storage, corpus["ana"], "Tide", ai_training=True, data=b"tide\n"
    )
    model = client.post(
        "/api/v1/models",
        headers=lab,
        json={"name": "Wave", "manifest": {corpus["open"].public_id: 1}},
    ).get_json()["model"]
    response = client.post(
        f"/api/v1/models/{model['id']}/versions",
        headers=lab,
        json={"version": "2", "manifest": {corpus["open"].public_id: 1, other.public_id: 3}},
    )
    assert response.status_code == 201, response.get_json()
    v2 = response.get_json()["model"]
    assert [v["version"] for v in v2["versions"]] == ["1", "2"]
    assert {m["record"]: m["share"] for m in v2["manifest"]} == {
        corpus["open"].public_id: "0.25",
        other.public_id: "0.75",
    }
    ana = bearer(client, corpus["ana"].email, PASSWORD)
    assert (
        client.post(
            f"/api/v1/models/{model['id']}/versions",
            headers=ana,
            json={"version": "3", "manifest": {corpus["open"].public_id: 1}},
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "M"},
        {"name": "M", "manifest": []},
        {"name": "", "manifest": {"x": 1}},
        {"name": "M", "manifest": {"ab" * 32: 1}},
        {"name": "M", "manifest": {"__open__": -1}},
        {"name": "M", "manifest": {"__open__": 1}, "retained": "3/2"},
        {"name": "M", "manifest": {"__open__": 1}, "gpu": 1},
    ],
    ids=[
        "no-manifest",
        "list",
        "no-name",
        "nothing-matched",
        "negative-weight",
        "retained-above-one",
        "unknown-field",
    ],
)
def test_bad_model_input_gets_a_422(client, corpus, lab, payload):
    manifest = payload.get("manifest")
    if isinstance(manifest, dict):
        payload = {
            **payload,
            "manifest": {
                corpus["open"].public_id if k == "__open__" else k: v for k, v in manifest.items()
            },
        }
    response = client.post("/api/v1/models", headers=lab, json=payload)
    assert response.status_code == 422, response.get_json()


def test_media_without_ai_consent_is_served_with_a_tdm_reservation(client, corpus):
    closed = client.get(f"/works/{corpus['closed'].public_id}/media")
    assert closed.headers.get("tdm-reservation") == "1"
    opened = client.get(f"/api/v1/records/{corpus['open'].public_id}/media")
    assert opened.status_code == 200 and "tdm-reservation" not in opened.headers


def test_tdmrep_json_describes_the_policy(client):
    response = client.get("/.well-known/tdmrep.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    rules = response.get_json()
    assert {k: v for k, v in rules[0].items() if k != "tdm-policy"} == {
        "location": "/works/*/media",
        "tdm-reservation": 1,
    }
    policy = client.get(rules[0]["tdm-policy"].replace("http://localhost", ""))
    assert policy.status_code == 200 and "tdm-reservation: 1" in policy.get_data(as_text=True)


def test_the_new_version_form_after_a_revocation_registers_on_the_first_try(
    app_db, app_storage, client, corpus, lab
):
    """The form starts from the next free version and leaves the revoked record out."""
    second = make_record(app_db, app_storage, corpus["ana"], "Tidepool", ai_training=True, data=WAV)
    model = client.post(
        "/api/v1/models",
        headers=lab,
        json={"name": "Wave", "manifest": {corpus["open"].public_id: 1, second.public_id: 1}},
    ).get_json()["model"]
    records.set_consent(app_db, corpus["ana"], corpus["open"].public_id, ai_training=False)
    browser = client.application.test_client()
    log_in(browser, corpus["lab"].email, PASSWORD)
    page = browser.get(f"/models/{model['id']}/versions/new")
    text = page.get_data(as_text=True)
    assert (
        page.status_code == 200 and "Left out of the new manifest" in text and "Shoreline" in text
    )
    fields = {
        name: value for name, value in re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', text)
    }
    manifest = re.search(r'<textarea[^>]*name="manifest"[^>]*>([^<]*)</textarea>', text)
    assert manifest is not None and corpus["open"].public_id not in manifest.group(1)
    assert fields["version"] == "2"
    fields["manifest"] = manifest.group(1).strip()
    fields["name"] = "Wave"
    response = browser.post(f"/models/{model['id']}/versions/new", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert [m.version for m in models_of(app_db, corpus["lab"])] == ["2", "1"]
