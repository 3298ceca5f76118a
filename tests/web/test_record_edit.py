"""Media first and owners' edits: thumbnails and players in lists, text shown in its page,
editing a record's words, hiding, and deleting only what nothing depends on."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Work
from hitrack.services.demo import solid_png
from hitrack.services.media import THUMBNAIL_SIZE, make_thumbnail
from tests.factories import PASSWORD, WAV, make_creator, make_record, make_remix
from tests.web.conftest import bearer, csrf_token, log_in


def big_png(width: int = 900, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(out, "PNG")
    return out.getvalue()


def test_an_image_gets_a_thumbnail_at_upload_shown_in_the_lists(
    app: Flask, app_db: Session, app_storage, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    ana = make_creator(app_db, "Ana")
    poster = make_record(app_db, app_storage, ana, "Poster", data=big_png())
    song = make_record(app_db, app_storage, ana, "Song", data=WAV)
    assert poster.thumbnail_key is not None and app_storage.exists(poster.thumbnail_key)
    assert song.thumbnail_key is None
    thumb = client.get(f"/works/{poster.public_id}/thumbnail")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.data)).size == (THUMBNAIL_SIZE, 213)
    assert client.get(f"/works/{song.public_id}/thumbnail").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert f'src="/works/{poster.public_id}/thumbnail"' in home
    assert f'<audio controls preload="none" src="/works/{song.public_id}/media"' in home


def test_a_file_that_is_no_image_makes_no_thumbnail() -> None:
    assert make_thumbnail(b"not an image at all") is None
    assert make_thumbnail(solid_png((1, 2, 3), size=8)) is not None


def test_a_text_record_is_shown_in_its_page(
    app_db: Session, app_storage, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    ana = make_creator(app_db, "Ana")
    poem = make_record(app_db, app_storage, ana, "Poem", data=b"The tide <comes> in at night.\n")
    page = client.get(f"/works/{poem.public_id}").get_data(as_text=True)
    assert "The tide &lt;comes&gt; in at night." in page  # shown, and escaped


def test_an_owner_edits_words_and_tags_and_nobody_else_can(
    app_db: Session, app_storage, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    record = make_record(app_db, app_storage, ana, "Shoreline")
    ana_auth, bo_auth = (bearer(client, c.email or "", PASSWORD) for c in (ana, bo))
    url = f"/api/v1/records/{record.public_id}"
    done = client.patch(
        url,
        json={"title": "Shoreline (dawn)", "tags": ["Sea", " field  recording ", "sea"]},
        headers=ana_auth,
    )
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["title"], done.get_json()["tags"]) == (
        "Shoreline (dawn)",
        ["sea", "field recording"],
    )
    refused = client.patch(url, json={"title": "Mine now"}, headers=bo_auth)
    assert refused.status_code == 403
    for bad in ({"title": ""}, {"tags": "x" * 41}, {"tags": [1]}, {"colour": "red"}):
        assert client.patch(url, json=bad, headers=ana_auth).status_code == 422, bad
    app_db.expire_all()
    stored = app_db.get(Work, record.id)
    assert stored is not None
    assert (stored.title, stored.tags) == ("Shoreline (dawn)", ["sea", "field recording"])
    assert client.patch("/api/v1/records/r-nothing", json={}, headers=ana_auth).status_code == 404

    # The same through the page.
    log_in(client, ana.email or "", PASSWORD)
    edit_url = f"/works/{record.public_id}/edit"
    saved = client.post(
        edit_url,
        data={
            "csrf_token": csrf_token(client, edit_url),
            "title": "Shoreline at dawn",
            "description": "Waves before the swimmers.",
            "tags": "sea, dawn",
        },
    )
    assert saved.status_code == 302
    page = client.get(f"/works/{record.public_id}").get_data(as_text=True)
    assert "Shoreline at dawn" in page and "Waves before the swimmers." in page and "dawn" in page


def test_a_record_nothing_cites_is_deleted_and_a_cited_one_can_only_be_hidden(
    app_db: Session, app_storage, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    draft = make_record(app_db, app_storage, ana, "Draft", data=big_png())
    shoreline = make_record(app_db, app_storage, ana, "Shoreline")
    tide = make_remix(app_db, app_storage, bo, (shoreline, "0.4"), title="Tide")
    keys = [draft.media_key, draft.thumbnail_key]
    ana_auth, bo_auth = (bearer(client, c.email or "", PASSWORD) for c in (ana, bo))
    citations = app_db.scalar(select(func.count()).select_from(Citation))

    assert client.delete(f"/api/v1/records/{draft.public_id}", headers=bo_auth).status_code == 403
    cited = client.delete(f"/api/v1/records/{shoreline.public_id}", headers=ana_auth)
    assert cited.status_code == 409
    assert "other works cite it; hide it instead" in cited.get_json()["error"]["message"]
    assert client.get(f"/api/v1/records/{shoreline.public_id}").status_code == 200
    assert app_db.scalar(select(func.count()).select_from(Citation)) == citations

    gone = client.delete(f"/api/v1/records/{draft.public_id}", headers=ana_auth)
    assert gone.status_code == 204
    assert client.get(f"/api/v1/records/{draft.public_id}").status_code == 404
    assert not any(app_storage.exists(k) for k in keys if k)

    # A remix is deleted with its own citation; its source stays.
    assert client.delete(f"/api/v1/records/{tide.public_id}", headers=bo_auth).status_code == 204
    assert app_db.scalar(select(func.count()).select_from(Citation)) == citations - 1

    # Hiding keeps the record (and its page) out of the lists only.
    hidden = client.put(
        f"/api/v1/records/{shoreline.public_id}/hidden", json={"hidden": True}, headers=ana_auth
    )
    assert hidden.status_code == 200 and hidden.get_json()["hidden"] is True
    assert (
        client.put(
            f"/api/v1/records/{shoreline.public_id}/hidden",
            json={"hidden": "yes"},
            headers=ana_auth,
        ).status_code
        == 422
    )
    assert "Shoreline" not in client.get("/").get_data(as_text=True)
    assert "hidden from the lists" in client.get(f"/works/{shoreline.public_id}").get_data(
        as_text=True
    )


def test_the_delete_button_on_a_cited_record_says_to_hide_it(
    app_db: Session, app_storage, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    shoreline = make_record(app_db, app_storage, ana, "Shoreline")
    make_remix(app_db, app_storage, bo, (shoreline, "0.4"), title="Tide")
    log_in(client, ana.email or "", PASSWORD)
    edit_url = f"/works/{shoreline.public_id}/edit"
    response = client.post(
        f"/works/{shoreline.public_id}/delete",
        data={"csrf_token": csrf_token(client, edit_url)},
        follow_redirects=True,
    )
    assert "cannot be deleted: other works cite it; hide it instead" in response.get_data(
        as_text=True
    )
    hidden = client.post(
        f"/works/{shoreline.public_id}/hide",
        data={"csrf_token": csrf_token(client, edit_url), "hidden": "1"},
        follow_redirects=True,
    )
    assert "Hidden from the lists." in hidden.get_data(as_text=True)
    assert client.get(f"/works/{shoreline.public_id}/edit").status_code == 200
    log_in(client, bo.email or "", PASSWORD)
    assert client.get(edit_url).status_code == 403
