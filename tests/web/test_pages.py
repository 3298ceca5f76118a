"""Server-rendered pages: upload and remix forms, work page, consent and citation forms, graph data."""

from __future__ import annotations

import io

from tests.factories import PASSWORD, PNG, make_creator, make_record, make_remix
from tests.web.conftest import csrf_token, log_in


def test_upload_form_creates_a_remix(client, app_db, app_storage):
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    shoreline = make_record(app_db, app_storage, ana, "Shoreline")
    log_in(client, bo.email, PASSWORD)
    page = client.get(f"/upload?source={shoreline.public_id}").get_data(as_text=True)
    assert shoreline.public_id in page and "Shoreline" in page
    assert 'for="source_share_1"' in page
    response = client.post(
        "/upload",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(client, "/upload"),
            "title": "Tide",
            "visibility": "public",
            "consent_remix": "y",
            "file": (io.BytesIO(PNG), "tide.png"),
            "source_id": [shoreline.public_id, ""],
            "source_share": ["0.4", ""],
        },
    )
    assert response.status_code == 302
    work_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tide" in work_page and "40%" in work_page and "60%" in work_page


def test_upload_form_shows_a_clear_error_and_keeps_the_rows(client, app_db, app_storage):
    ana = make_creator(app_db, "Ana")
    a = make_record(app_db, app_storage, ana, "A")
    log_in(client, ana.email, PASSWORD)
    response = client.post(
        "/upload",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(client, "/upload"),
            "title": "Greedy",
            "visibility": "public",
            "file": (io.BytesIO(PNG), "x.png"),
            "source_id": [a.public_id],
            "source_share": ["1.5"],
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "flash-error" in page and 'value="1.5"' in page


def test_upload_needs_a_login(client):
    response = client.get("/upload")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_owner_edits_consent_and_cites_from_the_work_page(client, app_db, app_storage):
    ana = make_creator(app_db, "Ana")
    a, b = make_record(app_db, app_storage, ana, "A"), make_record(app_db, app_storage, ana, "B")
    log_in(client, ana.email, PASSWORD)
    token = csrf_token(client, f"/works/{a.public_id}")
    client.post(
        f"/works/{a.public_id}/consent", data={"csrf_token": token, "consent_ai_training": "y"}
    )
    assert client.get(f"/api/v1/records/{a.public_id}").get_json()["consent"] == {
        "remix": False,
        "ai_training": True,
    }
    refused = client.post(
        f"/works/{b.public_id}/sources",
        data={"csrf_token": token, "source": a.public_id, "share": "0.1"},
        follow_redirects=True,
    )
    assert "consent" in refused.get_data(as_text=True).lower()
    client.post(f"/works/{a.public_id}/consent", data={"csrf_token": token, "consent_remix": "y"})
    bad = client.post(
        f"/works/{b.public_id}/sources",
        data={"csrf_token": token, "source": b.public_id, "share": "0.1"},
        follow_redirects=True,
    )
    assert "cannot cite itself" in bad.get_data(as_text=True) or "itself" in bad.get_data(
        as_text=True
    )
    ok = client.post(
        f"/works/{b.public_id}/sources",
        data={"csrf_token": token, "source": a.public_id, "share": "1/4"},
        follow_redirects=True,
    )
    assert "25%" in ok.get_data(as_text=True)


def test_graph_json_has_ancestry_and_descendants(client, app_db, app_storage):
    ana = make_creator(app_db, "Ana")
    a = make_record(app_db, app_storage, ana, "A")
    b = make_remix(app_db, app_storage, ana, (a, "0.5"), title="B")
    c = make_remix(app_db, app_storage, ana, (b, "1/3"), title="C")
    data = client.get(f"/works/{b.public_id}/graph.json").get_json()
    assert data["focus"] == b.public_id
    assert {n["id"] for n in data["nodes"]} == {a.public_id, b.public_id, c.public_id}
    assert {(e["source"], e["target"], e["label"]) for e in data["edges"]} == {
        (b.public_id, a.public_id, "50%"),
        (c.public_id, b.public_id, "33.33%"),
    }
    assert 'class="graph-view"' in client.get(f"/works/{b.public_id}/graph").get_data(as_text=True)


def test_unknown_work_is_a_404_page(client):
    response = client.get("/works/nope")
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)


def test_graph_view_of_a_large_neighbourhood_keeps_the_nearest_works(app, app_db, app_storage):
    from hitrack.web.graph_view import graph_view

    ana = make_creator(app_db, "Ana")
    root = make_record(app_db, app_storage, ana, "Root")
    remixes = [
        make_remix(app_db, app_storage, ana, (root, "0.1"), title=f"Remix {i}") for i in range(5)
    ]
    with app.test_request_context():
        small = graph_view(app_db, ana, root, max_nodes=3)
        whole = graph_view(app_db, ana, root)
    assert [n["id"] for n in small["nodes"]] == [
        root.public_id,
        remixes[0].public_id,
        remixes[1].public_id,
    ]
    assert small["truncated"] is True and len(small["edges"]) == 2
    assert whole["truncated"] is False and len(whole["nodes"]) == 6


def test_the_site_has_a_favicon(client):
    home = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.get_data()
    legacy = client.get("/favicon.ico")
    assert legacy.status_code == 301 and legacy.headers["Location"].endswith("/static/favicon.svg")
