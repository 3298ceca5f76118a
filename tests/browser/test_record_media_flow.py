"""A creator uploads a picture and a song: the home page shows the picture's thumbnail and a
player for the song; she renames the picture, then deletes it (nothing cites it)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser.conftest import sign_up
from tests.browser.test_remix_flow import upload_record
from tests.factories import WAV

pytestmark = pytest.mark.browser


def test_thumbnails_and_players_in_the_list_then_edit_and_delete(live_server, page, tmp_path):  # type: ignore[no-untyped-def]
    base = live_server.url
    picture = tmp_path / "harbour.png"
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 600), (30, 120, 90)).save(buffer, "PNG")
    picture.write_bytes(buffer.getvalue())
    song = tmp_path / "tide.wav"
    song.write_bytes(WAV)

    sign_up(page, base, "Ana", "ana@example.test")
    harbour = upload_record(page, base, "Harbour", picture)
    upload_record(page, base, "Tide song", song)

    page.goto(f"{base}/")
    thumb = page.locator(f'img.thumbnail[src="/works/{harbour}/thumbnail"]')
    thumb.wait_for()
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=thumb.element_handle())
    assert thumb.evaluate("(el) => [el.naturalWidth, el.naturalHeight]") == [320, 160]
    card = page.locator("article.card", has_text="Tide song")
    assert card.locator("audio[controls]").count() == 1

    page.goto(f"{base}/works/{harbour}")
    page.get_by_role("link", name="Edit, hide or delete").click()
    page.get_by_label("Title").fill("Harbour at noon")
    page.get_by_label("Tags (comma-separated)").fill("harbour, noon")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base}/works/{harbour}")
    assert page.locator("h1").inner_text() == "Harbour at noon"
    assert "noon" in page.locator("p.tags").inner_text()

    page.get_by_role("link", name="Edit, hide or delete").click()
    page.get_by_role("button", name="Delete this record").click()
    page.wait_for_url(f"{base}/")
    assert f"Record {harbour} deleted." in page.content()
    assert "Harbour at noon" not in page.content()
    assert page.goto(f"{base}/works/{harbour}").status == 404
