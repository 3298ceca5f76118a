"""The settlement mode on the model page and over the API: shown to all, chosen by the operator."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hitrack.services import ai_models
from tests.factories import PASSWORD, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in


def _model(app_db: Session, app_storage):  # type: ignore[no-untyped-def]
    operator = make_creator(app_db, "Op")
    record = make_record(
        app_db, app_storage, make_creator(app_db, "Ana"), "Shore", ai_training=True
    )
    model = ai_models.register_model(
        app_db, operator, name="Wave", manifest={record.public_id: "1"}
    ).model
    return operator, model


def test_the_operator_sets_the_mode_over_the_api_and_others_may_not(
    client: FlaskClient, app_db: Session, app_storage
) -> None:  # type: ignore[no-untyped-def]
    operator, model = _model(app_db, app_storage)
    url = f"/api/v1/works/{model.public_id}/settlement-mode"
    assert client.get(url).get_json() == {
        "work": model.public_id,
        "mode": "immediate",
        "chosen": None,
    }
    headers = bearer(client, operator.email, PASSWORD)
    answer = client.put(url, json={"mode": "period"}, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["chosen"] == "period"
    for bad in ({"mode": "weekly"}, {}, {"mode": "period", "extra": 1}):
        refused = client.put(url, json=bad, headers=headers)
        assert refused.status_code == 422, bad
    assert client.get(url).get_json()["mode"] == "period"
    stranger = make_creator(app_db, "Eve")
    other = bearer(client, stranger.email, PASSWORD)
    assert client.put(url, json={"mode": None}, headers=other).status_code == 403
    assert client.put(url, json={"mode": None}).status_code == 401
    missing = client.put("/api/v1/works/nope/settlement-mode", json={"mode": None}, headers=headers)
    assert missing.status_code == 404
    assert client.put(url, json={"mode": None}, headers=headers).get_json() == {
        "work": model.public_id,
        "mode": "immediate",
        "chosen": None,
    }


def test_the_model_page_shows_the_mode_and_its_operator_chooses_it(
    client: FlaskClient, app_db: Session, app_storage
) -> None:  # type: ignore[no-untyped-def]
    operator, model = _model(app_db, app_storage)
    page = f"/models/{model.public_id}"
    public = client.get(page).get_data(as_text=True)
    assert 'data-mode="immediate"' in public and 'name="mode"' not in public
    log_in(client, operator.email, PASSWORD)
    shown = client.get(page).get_data(as_text=True)
    assert 'name="mode"' in shown
    response = client.post(
        f"/works/{model.public_id}/settlement-mode",
        data={"mode": "period", "csrf_token": csrf_token(client, page)},
    )
    assert response.status_code == 302
    assert 'data-mode="period"' in client.get(page).get_data(as_text=True)
    refused = client.post(
        f"/works/{model.public_id}/settlement-mode",
        data={"mode": "weekly", "csrf_token": csrf_token(client, page)},
        follow_redirects=True,
    )
    assert "mode: expected one of" in refused.get_data(as_text=True)
    assert 'data-mode="period"' in client.get(page).get_data(as_text=True)
