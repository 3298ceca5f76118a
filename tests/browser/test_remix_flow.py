"""A newcomer signs up, uploads a record, remixes another creator's record and sees the graph."""

from __future__ import annotations

from tests.browser.conftest import sign_up
from tests.factories import PNG, WAV


def upload_record(
    page, base_url: str, title: str, path, *, sources: dict[str, str] | None = None
) -> str:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/upload")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Media file").set_input_files(str(path))
    for i, (work_id, share) in enumerate((sources or {}).items(), start=1):
        page.get_by_label(f"Source {i} work id").fill(work_id)
        page.get_by_label(f"Source {i} share").fill(share)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("#work-id")
    return page.locator("#work-id").inner_text().strip()


def test_sign_up_upload_remix_and_see_the_edge_in_the_graph(live_server, page, new_page, tmp_path):
    song = tmp_path / "shoreline.wav"
    song.write_bytes(WAV)
    cover = tmp_path / "cover.png"
    cover.write_bytes(PNG)

    # Ana uploads an original.
    ana = new_page()
    sign_up(ana, live_server.url, "Ana", "ana@example.test")
    shoreline = upload_record(ana, live_server.url, "Shoreline", song)
    assert ana.locator("audio").count() == 1

    # Bo signs up, finds it, remixes it with a 40% share.
    sign_up(page, live_server.url, "Bo", "bo@example.test")
    page.goto(f"{live_server.url}/works/{shoreline}")
    page.get_by_role("link", name="Remix this").click()
    assert page.get_by_label("Source 1 work id").input_value() == shoreline
    page.get_by_label("Title").fill("Tide")
    page.get_by_label("Media file").set_input_files(str(cover))
    page.get_by_label("Source 1 share").fill("0.4")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("#work-id")
    assert page.get_by_role("cell", name="40%").count() == 1
    assert "Retained by the owners" in page.content()

    # The graph page draws the edge with its share.
    page.get_by_role("link", name="See the contribution graph").click()
    view = page.locator(".graph-view")
    view.locator("xpath=.").wait_for()
    page.wait_for_selector(".graph-view[data-rendered='true']")
    assert view.get_attribute("data-edge-count") == "1"
    assert page.locator(".graph-edges li").first.inner_text() == "Tide cites Shoreline — 40%"
    assert page.locator(".graph-canvas canvas").count() >= 1

    # A share above 1 is refused with a clear message, and nothing is created.
    page.goto(f"{live_server.url}/upload?source={shoreline}")
    page.get_by_label("Title").fill("Greedy")
    page.get_by_label("Media file").set_input_files(str(cover))
    page.get_by_label("Source 1 share").fill("1.5")
    page.get_by_role("button", name="Upload").click()
    assert page.locator(".flash-error").inner_text().strip() != ""
    page.goto(f"{live_server.url}/")
    assert "Greedy" not in page.content()
