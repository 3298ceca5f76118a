"""A producer assembles a production from two remixes, proposes the split, a contributor comments, it is finalized."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hitrack.settings import Settings
from tests.factories import PASSWORD, make_creator, make_record, make_remix


@pytest.fixture
def live_settings(live_settings: Settings) -> Settings:
    """No comment window, so the producer can finalize within the test."""
    return replace(live_settings, proposal_window_days=0)


def log_in(page, base_url: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def test_producer_proposes_a_split_a_contributor_comments_and_it_is_finalized(
    live_server, page, new_page
):
    services = live_server.app.extensions["hitrack"]
    with services.sessions() as db:
        ana, bo, cy, dana = (make_creator(db, n) for n in ("Ana", "Bo", "Cy", "Dana"))
        shoreline = make_record(db, services.storage, ana, "Shoreline")
        tide = make_remix(db, services.storage, bo, (shoreline, "0.4"), title="Tide").public_id
        salt = make_remix(db, services.storage, cy, (shoreline, "0.2"), title="Salt").public_id
        emails = {"bo": bo.email, "dana": dana.email}

    # Dana assembles the production from the two remixes.
    log_in(page, live_server.url, emails["dana"])
    page.get_by_role("link", name="Productions").click()
    page.get_by_role("link", name="Start a production").click()
    page.get_by_label("Title").fill("Night Swim")
    for i, (work, role, share) in enumerate(
        [(tide, "composer", "0.6"), (salt, "editor", "0.4")], start=1
    ):
        page.get_by_label(f"Contribution {i} work id").fill(work)
        page.get_by_label(f"Contribution {i} credit role").fill(role)
        page.get_by_label(f"Contribution {i} share").fill(share)
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_selector("#production-status")
    assert page.locator("#production-status").inner_text() == "draft"
    credits = page.locator(".credits").text_content() or ""
    assert "Composer" in credits and "Bo" in credits and "Tide" in credits
    production_url = page.url

    # She publishes the proposal (retaining nothing).
    page.get_by_role("link", name="Edit the split").click()
    assert page.get_by_label("Your retained share").input_value() == "0"
    page.get_by_role("button", name="Publish proposal").click()
    page.wait_for_url(production_url)
    assert page.locator("#production-status").inner_text() == "proposed"
    preview = page.locator("#preview").inner_text()
    assert "Ana" in preview and "32.00" in preview  # 40% of Tide's 60 + 20% of Salt's 40

    # Bo sees it in his notifications and comments.
    bo_page = new_page()
    log_in(bo_page, live_server.url, emails["bo"])
    assert bo_page.locator("#nav-notifications").inner_text().strip().endswith("1")
    bo_page.locator("#nav-notifications").click()
    bo_page.get_by_role("button", name="Night Swim").click()
    bo_page.wait_for_url(production_url)
    bo_page.get_by_label("Comment").fill("Sixty percent for Tide is fair.")
    bo_page.get_by_role("button", name="Post").click()
    bo_page.wait_for_selector("text=Comment posted.")
    assert "Sixty percent for Tide is fair." in bo_page.locator("#comments").inner_text()

    # The window was 0 days: Dana finalizes (accepting the confirmation).
    page.reload()
    assert "Sixty percent for Tide is fair." in page.locator("#comments").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Finalize the split").click()
    page.wait_for_selector("text=The split is final.")
    assert page.locator("#production-status").inner_text() == "finalized"
    assert "Comments are closed." in page.locator("#comments").inner_text()
    assert [row.inner_text().split("\t")[-1] for row in page.locator("#log tbody tr").all()] == [
        "created",
        "published (revision 1)",
        "finalized (revision 1)",
    ]
