"""Production, model and notification pages: forms, credits, countdown, revisions, comments."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from hitrack.services import ai_models, notifications, records
from hitrack.services import productions as prod
from hitrack.services.productions import ContributionInput as C
from tests.factories import PASSWORD, make_creator, make_record, make_remix
from tests.web.conftest import csrf_token, log_in


@pytest.fixture
def cast(app_db, app_storage):  # type: ignore[no-untyped-def]
    ana, bo, dana, eve = (make_creator(app_db, n) for n in ("Ana", "Bo", "Dana", "Eve"))
    shoreline = make_record(app_db, app_storage, ana, "Shoreline", ai_training=True)
    tide = make_remix(app_db, app_storage, bo, (shoreline, "0.4"), title="Tide")
    return {"ana": ana, "bo": bo, "dana": dana, "eve": eve, "shoreline": shoreline, "tide": tide}


def draft(app_db, cast):  # type: ignore[no-untyped-def]
    return prod.create_production(
        app_db,
        cast["dana"],
        title="Night Swim",
        contributions=[
            C(cast["tide"].public_id, "0.6", "composer"),
            C(cast["shoreline"].public_id, "0.3", "performer"),
        ],
    )


def test_the_new_production_form_creates_a_draft(client, cast):
    log_in(client, cast["dana"].email, PASSWORD)
    page = client.get(f"/productions/new?source={cast['tide'].public_id}").get_data(as_text=True)
    assert (
        cast["tide"].public_id in page
        and 'list="credit-roles"' in page
        and "camera operator" in page
    )
    response = client.post(
        "/productions/new",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(client, "/productions/new"),
            "title": "Night Swim",
            "contribution_work": [cast["tide"].public_id, "", ""],
            "contribution_role": ["composer", "", ""],
            "contribution_share": ["1", "", ""],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Night Swim" in page and "Draft" in page and 'class="credits"' in page


def test_the_new_production_form_shows_errors_and_keeps_the_rows(client, cast):
    log_in(client, cast["dana"].email, PASSWORD)
    response = client.post(
        "/productions/new",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(client, "/productions/new"),
            "title": "Greedy",
            "contribution_work": [cast["tide"].public_id],
            "contribution_role": ["composer"],
            "contribution_share": ["1.5"],
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "flash-error" in page and 'value="1.5"' in page


def test_the_production_page_shows_credits_by_role_preview_and_countdown(app_db, client, cast):
    production = draft(app_db, cast)
    prod.publish_proposal(
        app_db, cast["dana"], production.public_id, retained="0.1", window=timedelta(days=14)
    )
    page = client.get(f"/productions/{production.public_id}").get_data(as_text=True)
    credits = page[
        page.index('class="credits"') : page.index("</section>", page.index('class="credits"'))
    ]
    assert (
        "<dt>Composer</dt>" in credits
        and "<dt>Performer</dt>" in credits
        and "<dt>Producer</dt>" in credits
    )
    assert "Bo" in credits and "60%" in credits and "10%" in credits
    assert re.search(r'<time datetime="[^"]+" data-countdown>', page)
    assert "per 100.00" in page and "Night Swim (production) earned 100.00" in page
    assert "Revision 1" in page


def test_a_revision_is_shown_as_a_diff(app_db, client, cast):
    production = draft(app_db, cast)
    prod.publish_proposal(
        app_db, cast["dana"], production.public_id, retained="0.1", window=timedelta(days=1)
    )
    prod.set_contributions(
        app_db, cast["dana"], production.public_id, [C(cast["tide"].public_id, "0.9", "composer")]
    )
    page = client.get(f"/productions/{production.public_id}").get_data(as_text=True)
    assert "not proposed until published" in page
    prod.publish_proposal(
        app_db, cast["dana"], production.public_id, retained="0.1", window=timedelta(days=1)
    )
    page = client.get(f"/productions/{production.public_id}").get_data(as_text=True)
    assert (
        'class="change-removed"' in page
        and 'class="change-changed"' in page
        and "Revision 2" in page
    )


def test_the_producer_edits_and_publishes_from_the_edit_page(app_db, client, cast):
    production = draft(app_db, cast)
    log_in(client, cast["dana"].email, PASSWORD)
    edit_url = f"/productions/{production.public_id}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    assert 'value="0.6"' in page and 'value="composer"' in page
    token = csrf_token(client, edit_url)
    response = client.post(
        f"/productions/{production.public_id}/publish",
        data={"csrf_token": token, "retained": "0", "note": "Bo's stems are in"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "state a retained share of 0.1" in page
    assert "Bo&#39;s stems are in</textarea>" in page  # the note survives the refusal
    response = client.post(
        f"/productions/{production.public_id}/publish",
        data={"csrf_token": token, "retained": "", "note": "keep me"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "State your retained share" in page
    assert "keep me</textarea>" in page and 'aria-describedby="retained-error"' in page
    response = client.post(
        f"/productions/{production.public_id}/publish",
        data={"csrf_token": token, "retained": "0.1"},
    )
    assert response.status_code == 302
    assert "Revision 1" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_others_cannot_open_the_edit_page(app_db, client, cast):
    production = draft(app_db, cast)
    log_in(client, cast["bo"].email, PASSWORD)  # a contributor sees the draft, not its editor
    assert client.get(f"/productions/{production.public_id}").status_code == 200
    assert client.get(f"/productions/{production.public_id}/edit").status_code == 403
    log_in(client, cast["eve"].email, PASSWORD)  # anyone else does not even find it
    assert client.get(f"/productions/{production.public_id}/edit").status_code == 404


def test_an_affected_creator_objects_and_sees_the_notification(app_db, client, cast):
    production = draft(app_db, cast)
    prod.publish_proposal(
        app_db, cast["dana"], production.public_id, retained="0.1", window=timedelta(days=1)
    )
    log_in(client, cast["ana"].email, PASSWORD)
    home = client.get("/").get_data(as_text=True)
    # Bo's remix of Shoreline told Ana too ("remixed"), besides the proposal.
    assert 'aria-label="2 unread"' in home
    page = client.get("/notifications").get_data(as_text=True)
    assert "Night Swim" in page and "remixes your work" in page
    [notice] = [
        n
        for n in notifications.notifications_for(app_db, cast["ana"])
        if n.kind == "proposal_published"
    ]
    opened = client.post(
        f"/notifications/{notice.id}/open",
        data={"csrf_token": csrf_token(client, "/notifications")},
    )
    assert opened.headers["Location"] == f"/productions/{production.public_id}"
    assert 'aria-label="1 unread"' in client.get("/").get_data(as_text=True)
    show = f"/productions/{production.public_id}"
    assert "File this as an objection" in client.get(show).get_data(as_text=True)
    response = client.post(
        f"{show}/comments",
        data={
            "csrf_token": csrf_token(client, show),
            "body": "Shoreline deserves more",
            "objection": "y",
        },
    )
    assert response.status_code == 302
    page = client.get(show).get_data(as_text=True)
    assert "Shoreline deserves more" in page and "objection" in page
    client.post("/notifications/read", data={"csrf_token": csrf_token(client, "/notifications")})
    assert "unread" not in client.get("/").get_data(as_text=True)


def test_finalize_button_appears_only_when_the_window_has_closed(app_db, client, cast):
    production = draft(app_db, cast)
    prod.publish_proposal(
        app_db, cast["dana"], production.public_id, retained="0.1", window=timedelta(days=1)
    )
    log_in(client, cast["dana"].email, PASSWORD)
    show = f"/productions/{production.public_id}"
    page = client.get(show).get_data(as_text=True)
    assert "Finalize the split" not in page and "once the comment window has closed" in page
    response = client.post(f"{show}/finalize", data={"csrf_token": csrf_token(client, show)})
    assert response.status_code == 302
    page = client.get(show).get_data(as_text=True)
    assert "closes at" in page and production.status == "proposed"


def test_the_model_page_shows_consent_now_and_versions(app_db, client, cast):
    result = ai_models.register_model(
        app_db,
        cast["bo"],
        name="Wave",
        version="1",
        manifest={cast["shoreline"].public_id: 1},
        retained="0.5",
    )
    records.set_consent(app_db, cast["ana"], cast["shoreline"].public_id, ai_training=False)
    page = client.get(f"/models/{result.model.public_id}").get_data(as_text=True)
    assert (
        "Shoreline" in page and "revoked" in page and "since withdrawn AI-training consent" in page
    )
    assert "v1" in page and "50%" in page


def test_the_model_form_registers_by_lines_of_ids_and_weights(app_db, app_storage, client, cast):
    other = make_record(app_db, app_storage, cast["ana"], "Salt", ai_training=True, data=b"salt\n")
    log_in(client, cast["bo"].email, PASSWORD)
    response = client.post(
        "/models/new",
        data={
            "csrf_token": csrf_token(client, "/models/new"),
            "name": "Wave",
            "version": "1",
            "retained": "0",
            "attribution_weight": "0",
            "manifest": f"{cast['shoreline'].public_id} 3\n{other.public_id}\n",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "75%" in page and "25%" in page
    response = client.post(
        "/models/new",
        data={
            "csrf_token": csrf_token(client, "/models/new"),
            "name": "Bad",
            "version": "1",
            "manifest": f"{cast['tide'].public_id} 1",
        },
    )
    assert response.status_code == 422 and "not consented to AI training" in response.get_data(
        as_text=True
    )


def test_list_pages_render(app_db, client, cast):
    production = draft(app_db, cast)
    assert "Night Swim" not in client.get("/productions").get_data(as_text=True)  # a draft
    prod.publish_proposal(
        app_db, cast["dana"], production.public_id, retained="0.1", window=timedelta(days=1)
    )
    assert "Night Swim" in client.get("/productions").get_data(as_text=True)
    assert client.get("/models").status_code == 200
    assert client.get("/policies/ai-training").status_code == 200
    assert client.get("/notifications").status_code == 302  # sign in first
