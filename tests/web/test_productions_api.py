"""The productions API: drafts, split edits, proposals, comments, finalize, cancel, preview, notifications."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hitrack.services import productions as prod
from hitrack.settings import Settings
from tests.factories import PASSWORD, make_creator, make_record, make_remix
from tests.web.conftest import bearer, csrf_token, log_in


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No comment window, so a proposal can be finalized within the test (the service tests cover time)."""
    return replace(settings, proposal_window_days=0)


@pytest.fixture
def cast(app_db, app_storage):  # type: ignore[no-untyped-def]
    ana, bo, dana, eve = (make_creator(app_db, n) for n in ("Ana", "Bo", "Dana", "Eve"))
    shoreline = make_record(app_db, app_storage, ana, "Shoreline")
    tide = make_remix(app_db, app_storage, bo, (shoreline, "0.4"), title="Tide")
    return {"ana": ana, "bo": bo, "dana": dana, "eve": eve, "shoreline": shoreline, "tide": tide}


@pytest.fixture
def dana(client, cast):  # type: ignore[no-untyped-def]
    return bearer(client, cast["dana"].email, PASSWORD)


def create(client, auth, cast, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/productions",
        headers=auth,
        json={
            "title": "Night Swim",
            "contributions": {
                cast["tide"].public_id: {"share": "0.6", "credit_role": "composer"},
                cast["shoreline"].public_id: "0.4",
            },
            **extra,
        },
    )


def test_the_whole_proposal_lifecycle_over_the_api(client, cast, dana):
    response = create(client, dana, cast)
    assert response.status_code == 201, response.get_json()
    production = response.get_json()
    pid = production["id"]
    assert production["status"] == "draft" and production["proposal"] is None
    assert production["producer"]["id"] == cast["dana"].handle
    assert {s["work"]: s.get("credit_role") for s in production["sources"]} == {
        cast["tide"].public_id: "composer",
        cast["shoreline"].public_id: None,
    }

    response = client.post(
        f"/api/v1/productions/{pid}/proposal", headers=dana, json={"note": "first cut"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "proposed"
    assert response.get_json()["revisions"][0]["note"] == "first cut"

    ana = bearer(client, cast["ana"].email, PASSWORD)
    inbox = client.get("/api/v1/me/notifications", headers=ana).get_json()
    # The proposal, and (before it) Tide remixing Ana's Shoreline.
    assert inbox["unread"] == 2 and inbox["notifications"][0]["url"] == f"/productions/{pid}"
    assert inbox["notifications"][1]["url"] == f"/works/{cast['tide'].public_id}"
    response = client.post(
        f"/api/v1/productions/{pid}/comments",
        headers=ana,
        json={"body": "Fair enough", "objection": False},
    )
    assert response.status_code == 201 and response.get_json()["author"]["id"] == cast["ana"].handle

    response = client.post(f"/api/v1/productions/{pid}/finalize", headers=dana)
    assert response.status_code == 200, response.get_json()
    final = response.get_json()
    assert final["status"] == "finalized"
    assert [e["action"] for e in final["log"]] == ["created", "published", "finalized"]
    assert (
        client.post(
            f"/api/v1/productions/{pid}/comments", headers=ana, json={"body": "late"}
        ).status_code
        == 409
    )
    assert (
        client.put(
            f"/api/v1/productions/{pid}/contributions",
            headers=dana,
            json={"contributions": {cast["tide"].public_id: "1"}},
        ).status_code
        == 409
    )


def test_a_revision_shows_its_diff(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    client.post(f"/api/v1/productions/{pid}/proposal", headers=dana, json={})
    response = client.put(
        f"/api/v1/productions/{pid}/contributions",
        headers=dana,
        json={
            "contributions": [
                {"work": cast["tide"].public_id, "share": "0.9", "credit_role": "composer"}
            ]
        },
    )
    assert (
        response.status_code == 200
        and response.get_json()["proposal"]["unpublished_changes"] is True
    )
    assert client.post(f"/api/v1/productions/{pid}/finalize", headers=dana).status_code == 409
    response = client.post(
        f"/api/v1/productions/{pid}/proposal", headers=dana, json={"retained": "0.1"}
    )
    assert response.status_code == 201, response.get_json()
    changes = {c["work"]: c["change"] for c in response.get_json()["revisions"][1]["changes"]}
    assert changes == {cast["tide"].public_id: "changed", cast["shoreline"].public_id: "removed"}


def test_preview_lists_each_creator_per_100_with_paths(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    preview = client.get(f"/api/v1/productions/{pid}/preview", headers=dana).get_json()
    assert preview["amount"] == 100_000_000
    by_creator = {c["id"]: c for c in preview["creators"]}
    assert by_creator[cast["ana"].handle]["micros"] == 64_000_000  # 40 direct + 40% of Tide's 60
    assert by_creator[cast["bo"].handle]["micros"] == 36_000_000
    assert sum(c["micros"] for c in preview["creators"]) == 100_000_000
    assert len(by_creator[cast["ana"].handle]["paths"]) == 2


def test_only_the_producer_changes_the_split(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    # Bo contributes (he owns Tide), so he sees the draft; Eve does not even find it.
    bo = bearer(client, cast["bo"].email, PASSWORD)
    eve = bearer(client, cast["eve"].email, PASSWORD)
    for method, path, payload in [
        ("put", "contributions", {"contributions": {cast["tide"].public_id: "1"}}),
        ("post", "proposal", {}),
        ("post", "finalize", {}),
        ("post", "cancel", {}),
    ]:
        for auth, status in ((bo, 403), (eve, 404)):
            response = getattr(client, method)(
                f"/api/v1/productions/{pid}/{path}", headers=auth, json=payload
            )
            assert response.status_code == status, (path, response.get_json())
    assert client.get(f"/api/v1/productions/{pid}", headers=dana).get_json()["status"] == "draft"


def test_finalize_before_the_window_closes_is_a_conflict(app_db, client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    prod.publish_proposal(app_db, cast["dana"], pid, window=timedelta(days=1))
    response = client.post(f"/api/v1/productions/{pid}/finalize", headers=dana)
    assert response.status_code == 409 and "closes at" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (lambda t, s: {"title": ""}, 422, "invalid_input"),
        (lambda t, s: {"title": "X", "contributions": {"r0000000000": "0.5"}}, 404, "not_found"),
        (lambda t, s: {"title": "X", "contributions": "everything"}, 422, "invalid_input"),
        (lambda t, s: {"title": "X", "contributions": {t: "half"}}, 422, "invalid_share"),
        (
            lambda t, s: {"title": "X", "contributions": {t: "0.7", s: "0.4"}},
            422,
            "invalid_citation",
        ),
        (lambda t, s: {"title": "X", "budget": 5}, 422, "invalid_input"),
    ],
    ids=["no-title", "unknown-work", "not-an-object", "bad-share", "above-one", "unknown-field"],
)
def test_bad_production_input_gets_a_clear_error_and_creates_nothing(
    client, app_db, cast, dana, payload, status, code
):
    before = len(prod.productions_of(app_db, cast["dana"]))
    response = client.post(
        "/api/v1/productions",
        headers=dana,
        json=payload(cast["tide"].public_id, cast["shoreline"].public_id),
    )
    assert response.status_code == status and response.get_json()["error"]["code"] == code, (
        response.get_json()
    )
    assert len(prod.productions_of(app_db, cast["dana"])) == before


def test_objections_are_for_affected_creators_only(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    client.post(f"/api/v1/productions/{pid}/proposal", headers=dana, json={})
    eve = bearer(client, cast["eve"].email, PASSWORD)
    response = client.post(
        f"/api/v1/productions/{pid}/comments", headers=eve, json={"body": "no", "objection": True}
    )
    assert response.status_code == 403
    bo = bearer(client, cast["bo"].email, PASSWORD)
    response = client.post(
        f"/api/v1/productions/{pid}/comments",
        headers=bo,
        json={"body": "More for Tide", "objection": True},
    )
    assert response.status_code == 201 and response.get_json()["objection"] is True
    assert (
        client.post(
            f"/api/v1/productions/{pid}/comments",
            headers=bo,
            json={"body": "x", "objection": "yes"},
        ).status_code
        == 422
    )


def test_cancel_before_finalizing(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    response = client.post(
        f"/api/v1/productions/{pid}/cancel", headers=dana, json={"reason": "shelved"}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert (
        client.post(f"/api/v1/productions/{pid}/proposal", headers=dana, json={}).status_code == 409
    )


def test_anonymous_callers_read_but_cannot_write(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    assert client.get(f"/api/v1/productions/{pid}").status_code == 404  # a draft is not public
    assert (
        client.post(f"/api/v1/productions/{pid}/proposal", headers=dana, json={}).status_code == 201
    )
    assert client.get(f"/api/v1/productions/{pid}").status_code == 200
    assert (
        client.post(f"/api/v1/productions/{pid}/comments", json={"body": "hi"}).status_code == 401
    )
    assert client.get("/api/v1/me/notifications").status_code == 401
    assert client.get(f"/api/v1/productions/{cast['tide'].public_id}").status_code == 404


def test_a_cookie_session_needs_the_csrf_token_on_the_api(client, cast):
    log_in(client, cast["dana"].email, PASSWORD)
    payload = {"title": "X", "contributions": {cast["tide"].public_id: "1"}}
    assert client.post("/api/v1/productions", json=payload).status_code == 400
    response = client.post(
        "/api/v1/productions",
        json=payload,
        headers={"X-CSRFToken": csrf_token(client, "/productions/new")},
    )
    assert response.status_code == 201


def test_notifications_can_be_marked_read(client, cast, dana):
    pid = create(client, dana, cast).get_json()["id"]
    client.post(f"/api/v1/productions/{pid}/proposal", headers=dana, json={})
    bo = bearer(client, cast["bo"].email, PASSWORD)
    assert client.post("/api/v1/me/notifications/read", headers=bo).get_json() == {"marked": 1}
    assert client.get("/api/v1/me/notifications", headers=bo).get_json()["unread"] == 0


def test_productions_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/productions",
        "/api/v1/productions/{public_id}/proposal",
        "/api/v1/productions/{public_id}/preview",
        "/api/v1/me/notifications",
    ):
        assert path in paths
