"""Cover art through the production page: the producer sets it, it shows in the lists,
a file that is no image is refused on the page, and nobody else may set it."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hitrack.services import productions
from tests.factories import PASSWORD, PNG, WAV, make_creator, make_record
from tests.web.conftest import csrf_token, log_in


def _post_cover(client: FlaskClient, public_id: str, data: bytes, name: str):  # type: ignore[no-untyped-def]
    page = f"/productions/{public_id}"
    return client.post(
        f"{page}/cover",
        data={"csrf_token": csrf_token(client, page), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_the_producer_sets_a_cover_shown_on_the_page_and_in_the_list(
    app_db: Session, app_storage, client: FlaskClient
) -> None:
    ana = make_creator(app_db, "Ana")
    bo = make_creator(app_db, "Bo")
    line = make_record(app_db, app_storage, bo, "Cello line", data=WAV)
    production = productions.create_production(
        app_db,
        ana,
        title="Harbour film",
        contributions=[productions.ContributionInput(line.public_id, "1/2", "cellist")],
    )
    public_id = production.public_id
    log_in(client, ana.email or "", PASSWORD)
    assert 'id="cover-form"' in client.get(f"/productions/{public_id}").get_data(as_text=True)

    refused = _post_cover(client, public_id, WAV, "song.wav")
    assert "not an image" in refused.get_data(as_text=True)
    app_db.expire_all()
    assert production.thumbnail_key is None

    saved = _post_cover(client, public_id, PNG, "cover.png")
    page = saved.get_data(as_text=True)
    assert "Cover saved." in page and 'id="production-cover"' in page
    app_db.expire_all()
    key = production.thumbnail_key
    assert key is not None
    cover = client.get(f"/works/{public_id}/thumbnail")
    assert cover.status_code == 200 and cover.content_type == "image/jpeg"
    assert f"/works/{public_id}/thumbnail" in client.get("/productions").get_data(as_text=True)

    # A contributor sees the page but has no form, and a post is refused; nothing changes.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    log_in(client, bo.email or "", PASSWORD)
    assert 'id="cover-form"' not in client.get(f"/productions/{public_id}").get_data(as_text=True)
    assert _post_cover(client, public_id, PNG, "mine.png").status_code == 403
    app_db.expire_all()
    assert production.thumbnail_key == key
