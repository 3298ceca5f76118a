"""A manifest file through the API and the page: a job checks it; the result is at /jobs/<id>."""

from __future__ import annotations

import io

from hitrack.services import ai_models
from tests.factories import PASSWORD, PNG, WAV, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in


def setup(app_db, app_storage):  # type: ignore[no-untyped-def]
    ana, lab = make_creator(app_db, "Ana"), make_creator(app_db, "Lab")
    shore = make_record(app_db, app_storage, ana, "Shoreline", ai_training=True, data=WAV)
    sketch = make_record(app_db, app_storage, ana, "Sketch", ai_training=False, data=PNG)
    model = ai_models.register_model(app_db, lab, name="Wave", manifest={shore.public_id: "1"})
    return lab, shore, sketch, model.model


def test_the_api_answers_202_with_the_job_and_the_job_tells_the_new_version(
    client, app_db, app_storage
):
    lab, shore, _sketch, model = setup(app_db, app_storage)
    headers = bearer(client, lab.email, PASSWORD)
    response = client.post(
        f"/api/v1/models/{model.public_id}/manifest",
        headers=headers,
        data={"version": "2", "file": (io.BytesIO(f"{shore.public_id},2\n".encode()), "m.csv")},
    )
    assert response.status_code == 202, response.get_json()
    job = client.get(f"/api/v1/jobs/{response.get_json()['id']}", headers=headers).get_json()
    assert job["status"] == "succeeded" and job["kind"] == "model_manifest"
    assert job["result"]["records"] == 1 and job["result"]["version"] == "2"
    version = client.get(f"/api/v1/models/{job['result']['model']}").get_json()
    assert version["version"] == "2"


def test_refused_rows_are_named_in_the_failed_job(client, app_db, app_storage):
    lab, shore, sketch, model = setup(app_db, app_storage)
    headers = bearer(client, lab.email, PASSWORD)
    body = f"{shore.public_id}\n{sketch.public_id}\nrec_missing\n".encode()
    response = client.post(
        f"/api/v1/models/{model.public_id}/manifest",
        headers=headers,
        data={"version": "2", "file": (io.BytesIO(body), "m.csv")},
    )
    assert response.status_code == 202
    job = client.get(f"/api/v1/jobs/{response.get_json()['id']}", headers=headers).get_json()
    assert job["status"] == "failed"
    assert "row 2: " in job["error"] and sketch.public_id in job["error"]
    assert "row 3: unknown record rec_missing" in job["error"]
    assert len(ai_models.model_view(app_db, lab, model.public_id).versions) == 1


def test_only_the_operator_uploads_and_a_file_is_required(client, app_db, app_storage):
    lab, shore, _sketch, model = setup(app_db, app_storage)
    other = make_creator(app_db, "Other")
    url = f"/api/v1/models/{model.public_id}/manifest"
    file = (io.BytesIO(f"{shore.public_id}\n".encode()), "m.csv")
    denied = client.post(
        url, headers=bearer(client, other.email, PASSWORD), data={"version": "2", "file": file}
    )
    assert denied.status_code == 403
    missing = client.post(url, headers=bearer(client, lab.email, PASSWORD), data={"version": "2"})
    assert missing.status_code == 422
    assert client.post("/api/v1/models/m_nope/manifest", data={"version": "2"}).status_code in (
        401,
        404,
    )


def test_the_page_uploads_and_redirects_to_the_job(client, app_db, app_storage):
    lab, shore, _sketch, model = setup(app_db, app_storage)
    log_in(client, lab.email, PASSWORD)
    url = f"/models/{model.public_id}/manifest"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "version": "3",
            "retained": "0",
            "file": (io.BytesIO(f"record,weight\n{shore.public_id},1\n".encode()), "m.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "succeeded" in page
