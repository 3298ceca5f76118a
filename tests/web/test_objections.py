"""Objections over the API and on the pages: answer, resolve, and finalize with a confirmation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hitrack.settings import Settings
from tests.factories import PASSWORD
from tests.web import test_productions_api as api_tests
from tests.web.conftest import bearer, csrf_token, log_in
from tests.web.test_productions_api import create

cast = api_tests.cast


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, proposal_window_days=0)


@pytest.fixture
def objected(client, cast):  # type: ignore[no-untyped-def]
    """Dana proposes Night Swim; Ana objects. Returns (production id, objection id, dana's auth)."""
    dana = bearer(client, cast["dana"].email, PASSWORD)
    pid = create(client, dana, cast).get_json()["id"]
    client.post(f"/api/v1/productions/{pid}/proposal", headers=dana, json={})
    ana = bearer(client, cast["ana"].email, PASSWORD)
    response = client.post(
        f"/api/v1/productions/{pid}/comments",
        headers=ana,
        json={"body": "Shoreline deserves more", "objection": True},
    )
    return pid, response.get_json()["id"], dana


def test_the_producer_answers_then_resolves_over_the_api(client, cast, objected):
    pid, objection, dana = objected
    url = f"/api/v1/productions/{pid}/comments/{objection}/answer"
    response = client.post(url, headers=dana, json={"answer": "It carries the melody"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["answer"] == "It carries the melody"
    assert response.get_json()["resolved_at"] is None
    response = client.post(url, headers=dana, json={"resolve": True})
    assert response.status_code == 200 and response.get_json()["resolved_at"] is not None
    assert client.post(url, headers=dana, json={"resolve": True}).status_code == 409
    response = client.post(f"/api/v1/productions/{pid}/finalize", headers=dana)
    assert response.status_code == 200, response.get_json()


def test_bad_answers_are_refused_over_the_api(client, cast, objected):
    pid, objection, dana = objected
    url = f"/api/v1/productions/{pid}/comments/{objection}/answer"
    ana = bearer(client, cast["ana"].email, PASSWORD)
    assert client.post(url, headers=ana, json={"answer": "I agree with me"}).status_code == 403
    assert client.post(url, headers=dana, json={"answer": " "}).status_code == 422
    assert client.post(url, headers=dana, json={"resolve": "yes"}).status_code == 422
    assert client.post(url, headers=dana, json={"colour": "red"}).status_code == 422
    missing = f"/api/v1/productions/{pid}/comments/999999/answer"
    assert client.post(missing, headers=dana, json={"answer": "x"}).status_code == 404
    nowhere = f"/api/v1/productions/p000000000/comments/{objection}/answer"
    assert client.post(nowhere, headers=dana, json={"answer": "x"}).status_code == 404
    comment = client.get(f"/api/v1/productions/{pid}").get_json()["comments"][0]
    assert comment["answer"] is None and comment["resolved_at"] is None


def test_finalizing_over_an_open_objection_needs_the_confirmation_over_the_api(
    client, cast, objected
):
    pid, _, dana = objected
    response = client.post(f"/api/v1/productions/{pid}/finalize", headers=dana)
    assert response.status_code == 409 and "still open" in response.get_json()["error"]["message"]
    response = client.post(
        f"/api/v1/productions/{pid}/finalize", headers=dana, json={"confirm_open_objections": 1}
    )
    assert response.status_code == 422
    response = client.post(
        f"/api/v1/productions/{pid}/finalize", headers=dana, json={"confirm_open_objections": True}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "finalized"


def test_on_the_pages_the_producer_answers_and_finalizes_after_confirming(client, cast, objected):
    pid, objection, _ = objected
    log_in(client, cast["dana"].email, PASSWORD)
    show = f"/productions/{pid}"
    page = client.get(show).get_data(as_text=True)
    assert "open objection" in page and "Review and finalize" in page
    response = client.post(
        f"{show}/objections/{objection}/answer",
        data={"csrf_token": csrf_token(client, show), "answer": "It carries the melody"},
    )
    assert response.status_code == 302
    page = client.get(show).get_data(as_text=True)
    assert "Dana answered" in page and "It carries the melody" in page

    confirm = client.get(f"{show}/finalize").get_data(as_text=True)
    assert "1 objection still open" in confirm and "Shoreline deserves more" in confirm
    token = csrf_token(client, f"{show}/finalize")
    refused = client.post(f"{show}/finalize", data={"csrf_token": token})
    assert refused.status_code == 200 and "still open" in refused.get_data(as_text=True)
    assert "proposed" in client.get(show).get_data(as_text=True)
    response = client.post(
        f"{show}/finalize", data={"csrf_token": token, "confirm_open_objections": "y"}
    )
    assert response.status_code == 302
    assert "finalized" in client.get(show).get_data(as_text=True)


def test_the_edit_page_tells_a_non_producer_who_may_edit(client, cast, objected):
    pid, _, _ = objected
    log_in(client, cast["ana"].email, PASSWORD)
    response = client.get(f"/productions/{pid}/edit")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Only Dana, the producer of “Night Swim”, edits its split" in page
