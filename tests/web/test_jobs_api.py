"""The jobs API and page: who started a job (and admins) read its status; nobody else can."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hitrack.jobs.database import DatabaseQueue
from hitrack.services import jobs
from hitrack.services.unit_of_work import unit_of_work
from tests.factories import PASSWORD, make_creator
from tests.web.conftest import bearer, log_in


def test_the_starter_reads_a_queued_job_and_others_get_404(
    client: FlaskClient, app_db: Session
) -> None:
    ana, bob = make_creator(app_db, "Ana", admin=True), make_creator(app_db, "Bob")
    with unit_of_work(app_db):
        job = jobs.submit(app_db, DatabaseQueue(), "payout_run", {}, actor=ana)

    response = client.get(
        f"/api/v1/jobs/{job.public_id}", headers=bearer(client, ana.email or "", PASSWORD)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == job.public_id and body["kind"] == "payout_run"
    assert body["status"] == "queued" and body["progress"] == {"done": 0, "total": None}
    assert body["error"] is None and body["result"] is None

    assert client.get(f"/api/v1/jobs/{job.public_id}").status_code == 401
    other = bearer(client, bob.email or "", PASSWORD)
    for job_id in (job.public_id, "job_missing"):
        refused = client.get(f"/api/v1/jobs/{job_id}", headers=other)
        assert refused.status_code == 404
        assert refused.get_json()["error"]["message"] == f"job {job_id} not found"


def test_the_job_page_shows_status_and_refreshes_while_queued(
    client: FlaskClient, app_db: Session
) -> None:
    ana = make_creator(app_db, "Ana", admin=True)
    with unit_of_work(app_db):
        job = jobs.submit(app_db, DatabaseQueue(), "payout_run", {}, actor=ana)
    log_in(client, ana.email or "", PASSWORD)
    page = client.get(f"/jobs/{job.public_id}").get_data(as_text=True)
    assert job.public_id in page and 'id="job-status"' in page
    assert '<meta http-equiv="refresh" content="2">' in page
