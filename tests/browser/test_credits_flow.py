"""The credits walk in the browser: a studio uploads a film record and credits three people
(one unclaimed, invited by e-mail), a model trained on it earns, the invited sound mixer signs
up through the invitation link, an admin verifies her with a reason, she claims, the studio
confirms the claim, and she sees the escrowed earnings with their explanation."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
from collections.abc import Iterator

import pytest

from hitrack.settings import Settings
from tests.browser.conftest import LiveServer, sign_up, start_live_server
from tests.factories import PASSWORD, PNG, make_creator
from tests.mail_server import SmtpServer, smtp_server

pytestmark = pytest.mark.browser
CLAIM_LINK = re.compile(r"http://\S+/credits/claim/\S+")
MIXER = "as sound mixer on Night Swim, through 25% credit pool"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server("plain") as server:
        yield server


@pytest.fixture
def live_server(live_settings: Settings, smtp: SmtpServer) -> Iterator[LiveServer]:
    settings = dataclasses.replace(live_settings, smtp_url=smtp.url)
    server, stop = start_live_server(settings)
    # Links in e-mails must lead back to this server, whose port is known only now.
    server.app.extensions["hitrack"].settings = dataclasses.replace(settings, base_url=server.url)
    yield server
    stop()


def log_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def handle_of(page, base: str, name: str) -> str:  # type: ignore[no-untyped-def]
    """Find a creator by name in the credit editor's search, as a studio would."""
    page.get_by_label("Find a creator by name").fill(name)
    page.get_by_role("button", name="Search").click()
    found = page.locator("#found-creators li", has_text=name)
    return found.locator("code").inner_text().strip()


def report_revenue(base: str, token: str, body: dict[str, object]) -> dict[str, object]:
    """The model operator's own server reports an output's revenue over the API."""
    request = urllib.request.Request(
        f"{base}/api/v1/revenue",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - loopback only
        assert response.status == 201
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_an_unclaimed_sound_mixer_signs_up_is_verified_claims_and_sees_her_escrow(
    live_server: LiveServer, smtp: SmtpServer, page, new_page, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    services = live_server.app.extensions["hitrack"]
    with services.sessions() as db:
        admin = make_creator(db, "Ada Admin", admin=True)
        make_creator(db, "Gina")
        make_creator(db, "Hal")
        lab = make_creator(db, "Lab")
        emails = {"admin": admin.email, "lab": lab.email}
    still = tmp_path / "night-swim.png"
    still.write_bytes(PNG)

    # The studio uploads the film record, open to AI training, and credits three people.
    sign_up(page, base, "Studio North", "studio@example.test")
    page.goto(f"{base}/upload")
    page.get_by_label("Title").fill("Night Swim")
    page.get_by_label("Media file").set_input_files(str(still))
    page.get_by_label("This record may be used to train AI models").check()
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("#work-id")
    film = page.locator("#work-id").inner_text().strip()
    film_url = page.url
    page.get_by_role("link", name="Edit credits").click()
    gina, hal = handle_of(page, base, "Gina"), handle_of(page, base, "Hal")
    page.get_by_label("Credit pool").fill("0.25")
    page.get_by_label("Credits, one per line").fill(
        f"Gina | actor | 3 | {gina}\n"
        f"Hal | screenwriter | 1 | {hal}\n"
        "Kim | sound mixer | 1 | kim@example.test"
    )
    page.get_by_role("button", name="Save credits").click()
    page.wait_for_url(film_url)
    credits = page.locator("#credits")
    assert "25% of what this work keeps goes to the people credited on it." in (
        credits.inner_text()
    )
    assert "unclaimed (held in escrow)" in credits.inner_text()
    assert page.locator("#held-for").inner_text() == "Held for 1 person until they claim."

    [invitation] = smtp.inbox.messages
    assert invitation["To"] == "kim@example.test"
    assert "credited Kim as sound mixer on Night Swim" in invitation.get_content()
    link = CLAIM_LINK.search(invitation.get_content()).group(0)

    # A lab registers a model trained on it and reports what an output earned.
    lab_page = new_page()
    log_in(lab_page, base, emails["lab"])
    lab_page.goto(f"{base}/models/new")
    lab_page.get_by_label("Model name").fill("Dreamreel")
    lab_page.get_by_label("Operator's retained share").fill("0.5")
    lab_page.get_by_label("Training manifest").fill(f"{film} 1")
    lab_page.get_by_role("button", name="Register").click()
    lab_page.wait_for_selector("#manifest")
    model = lab_page.locator("#work-id").inner_text().strip()
    lab_page.goto(f"{base}/account")
    lab_page.get_by_label("Label").fill("revenue reporter")
    lab_page.get_by_role("button", name="Create token").click()
    token = lab_page.locator("#new-token").inner_text().strip()
    reported = report_revenue(
        base,
        token,
        {"work": model, "amount": 100_000_000, "currency": "USD", "external_id": "reel-1"},
    )
    assert reported["state"] == "reported"

    # An admin confirms the money arrived: the event is funded and settled.
    admin_page = new_page()
    log_in(admin_page, base, emails["admin"])
    admin_page.goto(f"{base}/admin/revenue")
    row = admin_page.locator('tr[data-event="reel-1"]')
    row.get_by_label("Reference").fill("wire 2026-12-02")
    row.get_by_role("button", name="Confirm funding").click()
    assert "Revenue event reel-1 funded and settled." in admin_page.content()

    # The studio's escrow report: Kim's 50% of 25% of the film's 50.00, by weight 1 of 5.
    page.goto(f"{film_url}/escrow")
    assert page.locator("#held-for").inner_text() == "Held for 1 person."
    kim_row = page.locator("tr", has_text="sound mixer")
    assert "Kim" in kim_row.inner_text() and "2.50 USD" in kim_row.inner_text()

    # Kim opens the invitation: her escrow and why it was earned, before she has an account.
    kim = new_page()
    kim.goto(link)
    assert kim.locator("#escrow-held").inner_text() == "Held for you: 2.50 USD"
    why = kim.locator("#escrow-earnings ul.explanation li").first.inner_text()
    assert MIXER in why and why.endswith(": 2.50 of this sale"), why
    kim.get_by_role("main").get_by_role("link", name="Sign up").click()
    kim.get_by_label("Display name").fill("Kim")
    kim.get_by_label("E-mail").fill("kim@example.test")
    kim.get_by_label("Password").fill("browser-password")
    kim.get_by_role("button", name="Create account").click()
    kim.wait_for_url(link)
    assert "Only verified creators claim credits" in kim.content()

    # The admin verifies her, with the reason, on the verification page.
    admin_page.goto(f"{base}/admin/ledger")
    admin_page.get_by_role("link", name="Verify a creator").click()
    admin_page.get_by_label("Find").fill("Kim")
    admin_page.get_by_role("button", name="Search").click()
    kim_handle = admin_page.locator("#found-creators li", has_text="Kim").locator("code")
    admin_page.get_by_label("Creator handle").fill(kim_handle.inner_text().strip())
    admin_page.get_by_label("How the identity was verified").fill("passport seen on a video call")
    admin_page.get_by_role("button", name="Verify").click()
    assert "Kim is verified: passport seen on a video call" in admin_page.content()
    assert (
        admin_page.locator("#found-creators li", has_text="Kim").inner_text().endswith("verified")
    )

    # She claims; the claim is pending for the dispute window, and the studio confirms it.
    kim.reload()
    kim.get_by_role("button", name="Claim this credit").click()
    kim.wait_for_url(f"{base}/credits")
    assert "claim pending until" in kim.locator("#held-credits").inner_text()
    page.goto(f"{film_url}/escrow")
    page.locator("tr", has_text="sound mixer").get_by_role("button", name="Confirm").click()
    assert page.locator("#held-for").inner_text() == "Held for 0 people."

    # Kim's credit is hers, and the money its escrow held is explained as hers.
    kim.reload()
    held = kim.locator("#held-credits").inner_text()
    assert "Night Swim" in held and "sound mixer" in held and "claimed" in held
    earned = kim.locator('#escrow-earnings tr[data-event="reel-1"]')
    assert "2.50 USD" in earned.inner_text()
    assert MIXER in earned.locator("ul.explanation li").first.inner_text()
    kim.goto(f"{base}/me/earnings")
    assert kim.locator("td.balance .money").get_attribute("data-micros") == "2500000"
    kim.goto(film_url)
    assert "Held for" not in kim.locator("#credits").inner_text()  # not hers to see
    assert film in kim.url
