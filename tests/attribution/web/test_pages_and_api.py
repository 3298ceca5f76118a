"""Attribution over HTTP and in the pages: submit outputs, read reports, see your matches."""

from __future__ import annotations

import io
import random

import pytest
from sqlalchemy import func, select

from benchmarks import attribution_corpus as corpus
from hitrack.db.models import AttributionMatch, AttributionOutput
from hitrack.services import ai_models
from tests.factories import PASSWORD, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in


@pytest.fixture
def world(app_db, app_storage, signals, texts, images):  # type: ignore[no-untyped-def]
    ana, lab, cy = (
        make_creator(app_db, "Ana"),
        make_creator(app_db, "Lab"),
        make_creator(app_db, "Cy"),
    )
    stories = [
        make_record(app_db, app_storage, ana, f"Story {i}", data=t.encode(), ai_training=True)
        for i, t in enumerate(texts[:4])
    ]
    pictures = [
        make_record(app_db, app_storage, ana, f"Picture {i}", data=d, ai_training=True)
        for i, d in enumerate(images[:2])
    ]
    model = ai_models.register_model(
        app_db,
        lab,
        name="Muse",
        attribution_weight="1/2",
        retained="1/2",
        manifest={r.public_id: 1 for r in stories + pictures},
        storage=app_storage,
    ).model
    return {
        "ana": ana,
        "lab": lab,
        "cy": cy,
        "stories": stories,
        "pictures": pictures,
        "model": model,
    }


def stored(app_db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return (
        int(app_db.scalar(select(func.count()).select_from(AttributionOutput))),
        int(app_db.scalar(select(func.count()).select_from(AttributionMatch))),
    )


def test_the_operator_submits_a_text_and_reads_its_report(client, world, texts):
    lab = bearer(client, world["lab"].email, PASSWORD)
    edit = corpus.heavy_text_edit(random.Random(3), texts[2])
    response = client.post(
        f"/api/v1/models/{world['model'].public_id}/outputs", headers=lab, json={"text": edit}
    )
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["signal"] == "text" and report["attributes"] is True
    assert report["matches"][0]["work"] == world["stories"][2].public_id
    assert sum(report["vector"].values()) == 1_000_000
    again = client.get(f"/api/v1/outputs/{report['id']}", headers=lab).get_json()
    assert again["vector"] == report["vector"]
    listed = client.get(f"/api/v1/models/{world['model'].public_id}/outputs", headers=lab)
    assert [o["id"] for o in listed.get_json()["outputs"]] == [report["id"]]


def test_an_image_file_is_attributed_over_multipart(client, world, images):
    lab = bearer(client, world["lab"].email, PASSWORD)
    from PIL import Image

    copy = corpus.light_image_edit(
        random.Random(1), Image.open(io.BytesIO(images[1])).convert("RGB")
    )
    response = client.post(
        f"/api/v1/models/{world['model'].public_id}/outputs",
        headers=lab,
        data={"file": (io.BytesIO(copy), "output.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["submitted"]["type"] == "image/jpeg" and report["signal"] == "image"
    assert report["matches"][0]["work"] == world["pictures"][1].public_id


def test_operator_scores_and_revenue_naming_the_output(client, world, app_db):
    lab = bearer(client, world["lab"].email, PASSWORD)
    first, second = (r.public_id for r in world["stories"][:2])
    model = world["model"].public_id
    response = client.post(
        f"/api/v1/models/{model}/outputs", headers=lab, json={"scores": {first: 0.75, second: -1}}
    )
    assert response.status_code == 201, response.get_json()
    output = response.get_json()
    assert output["vector"] == {first: 1_000_000} and output["signal"] == "operator"
    event = client.post(
        "/api/v1/revenue",
        headers=lab,
        json={
            "external_id": "sale-1",
            "work": model,
            "amount": 2_000_000,
            "currency": "USD",
            "output": output["id"],
        },
    )
    assert event.status_code == 201, event.get_json()
    assert event.get_json()["output"] == output["id"]
    assert event.get_json()["attribution"] == {first: "1000000"}
    unpaid = client.get(f"/api/v1/outputs/{output['id']}", headers=lab).get_json()
    assert unpaid["revenue"] == []  # reported by the operator: nothing paid until it is funded
    admin = make_creator(app_db, "Admin", admin=True)
    confirmed = client.post(
        "/api/v1/revenue/sale-1/confirm-funding",
        headers=bearer(client, admin.email, PASSWORD),
        json={"reference": "bank transfer 17"},
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    event = confirmed
    report = client.get(f"/api/v1/outputs/{output['id']}", headers=lab).get_json()
    assert report["revenue"] == [
        {"currency": "USD", "events": 1, "distributable": event.get_json()["distributable"]}
    ]
    assert report["matches"][0]["paid"]["USD"]["by_attribution_micros"] > 0


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("ana", {"text": "a story"}, 403),
        ("lab", {"text": ""}, 422),
        ("lab", {"text": "x" * 100_001}, 422),
        ("lab", {"scores": {"r-nowhere": 1}}, 422),
        ("lab", {"scores": {}}, 422),
        ("lab", {"prompt": "hello"}, 422),
    ],
)
def test_bad_outputs_are_refused_over_http_and_store_nothing(
    client, app_db, world, who, body, status
):
    headers = bearer(client, world[who].email, PASSWORD)
    before = stored(app_db)
    response = client.post(
        f"/api/v1/models/{world['model'].public_id}/outputs", headers=headers, json=body
    )
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["message"]
    assert stored(app_db) == before


def test_an_audio_file_for_a_manifest_without_audio_is_refused(client, app_db, world, melodies):
    lab = bearer(client, world["lab"].email, PASSWORD)
    before = stored(app_db)
    response = client.post(
        f"/api/v1/models/{world['model'].public_id}/outputs",
        headers=lab,
        data={"file": (io.BytesIO(melodies[0]), "song.wav")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "has no audio records" in response.get_json()["error"]["message"]
    assert stored(app_db) == before


def test_matched_owners_read_the_report_and_strangers_do_not(client, world, texts):
    lab = bearer(client, world["lab"].email, PASSWORD)
    model = world["model"].public_id
    output = client.post(
        f"/api/v1/models/{model}/outputs", headers=lab, json={"text": texts[0]}
    ).get_json()
    ana = bearer(client, world["ana"].email, PASSWORD)
    assert client.get(f"/api/v1/outputs/{output['id']}", headers=ana).status_code == 200
    cy = bearer(client, world["cy"].email, PASSWORD)
    assert client.get(f"/api/v1/outputs/{output['id']}", headers=cy).status_code == 404
    assert client.get(f"/api/v1/outputs/{output['id']}").status_code == 401
    mine = client.get("/api/v1/me/matches", headers=ana).get_json()["matches"]
    assert {(m["work"]["id"], m["model"]["id"], m["outputs"]) for m in mine} >= {
        (world["stories"][0].public_id, model, 1)
    }


def test_the_pages_submit_an_output_show_its_report_and_the_owners_matches(client, world, texts):
    model = world["model"].public_id
    log_in(client, world["lab"].email, PASSWORD)
    page = client.get(f"/models/{model}/outputs")
    assert page.status_code == 200 and "Attribute an output" in page.get_data(as_text=True)
    assert "Outputs and attribution" in client.get(f"/models/{model}").get_data(as_text=True)
    response = client.post(
        f"/models/{model}/outputs",
        data={"text": texts[1], "csrf_token": csrf_token(client, f"/models/{model}/outputs")},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    report = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Story 1" in report and "Matched works" in report
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    log_in(client, world["ana"].email, PASSWORD)
    work_page = client.get(f"/works/{world['stories'][1].public_id}").get_data(as_text=True)
    assert "Your work was matched in" in work_page and "Muse" in work_page
    matches = client.get("/me/matches").get_data(as_text=True)
    assert "Story 1" in matches and "Muse" in matches
    assert "/me/matches" in client.get("/me/earnings").get_data(as_text=True)


def test_a_bad_output_on_the_page_shows_the_error(client, world):
    model = world["model"].public_id
    log_in(client, world["lab"].email, PASSWORD)
    response = client.post(
        f"/models/{model}/outputs",
        data={"text": "   ", "csrf_token": csrf_token(client, f"/models/{model}/outputs")},
    )
    assert response.status_code == 422 and "empty" in response.get_data(as_text=True)


def test_the_attribution_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/models/{public_id}/outputs"])
    assert "get" in paths["/api/v1/outputs/{output_id}"]
    assert "get" in paths["/api/v1/me/matches"]


def test_credit_holders_of_a_matched_work_read_the_report_and_others_do_not(
    app, app_db, client, world, texts
):  # type: ignore[no-untyped-def]
    from hitrack.services import credits as credit_service

    services = app.extensions["hitrack"]
    db = app_db
    dee = make_creator(db, "Dee")
    story, picture = world["stories"][2], world["pictures"][0]

    def credit(work, creator, role: str) -> None:  # type: ignore[no-untyped-def]
        credit_service.set_credits(
            db,
            world["ana"],
            work.public_id,
            credit_service.CreditsInput(
                tuple(
                    credit_service.CreditEntry(
                        name=c.display_name, role=role, weight="1", creator=c.handle
                    )
                    for c in creator
                ),
                "1/4" if creator else "0",
            ),
            min_credit_pool=services.settings.min_credit_pool,
        )

    credit(story, [world["cy"]], "screenwriter")
    credit(picture, [dee], "photographer")
    lab = bearer(client, world["lab"].email, PASSWORD)
    edit = corpus.heavy_text_edit(random.Random(3), texts[2])
    report = client.post(
        f"/api/v1/models/{world['model'].public_id}/outputs", headers=lab, json={"text": edit}
    ).get_json()
    assert report["matches"][0]["work"] == story.public_id
    assert picture.public_id not in {m["work"] for m in report["matches"]}
    cy, dee_auth = bearer(client, world["cy"].email, PASSWORD), bearer(client, dee.email, PASSWORD)

    allowed = client.get(f"/api/v1/outputs/{report['id']}", headers=cy)
    assert allowed.status_code == 200 and allowed.get_json()["vector"] == report["vector"]
    mine = client.get("/api/v1/me/matches", headers=cy).get_json()["matches"]
    assert [m["work"]["id"] for m in mine] == [story.public_id]
    refused = client.get(f"/api/v1/outputs/{report['id']}", headers=dee_auth)
    assert refused.status_code == 404  # credited on a work the output did not match

    log_in(client, world["cy"].email, PASSWORD)
    page = client.get(f"/outputs/{report['id']}").get_data(as_text=True)
    assert "Story 2" in page and "yours" in page

    # Taken off the work's credits, Cy reads the report no more.
    credit(story, [], "screenwriter")
    api = app.test_client()
    assert api.get(f"/api/v1/outputs/{report['id']}", headers=cy).status_code == 404
