"""One contract for every mailer: what goes in is what a reader gets, link and all.

The console mailer is read back from its mailbox folder; SMTP is read back
from a real SMTP server on loopback, in each of its three connection kinds.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from hitrack.domain.errors import InvalidInput, ProviderUnavailable
from hitrack.mail import DevMailbox, Email, Mailer, SmtpMailer, make_mailer, parse_smtp_url
from hitrack.settings import Settings
from tests.mail_server import smtp_server

SENDER = "hitrack <no-reply@hitrack.example>"
BASE_URL = "https://hitrack.example"


@dataclass
class MailerUnderTest:
    mailer: Mailer
    received: Callable[[], list[EmailMessage]]


@pytest.fixture(params=["console", "plain", "starttls", "ssl"])
def under_test(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailerUnderTest]:
    if request.param == "console":
        mailbox = DevMailbox(tmp_path / "mailbox", sender=SENDER, base_url=BASE_URL)
        yield MailerUnderTest(mailbox, lambda: list(reversed(mailbox.messages())))
        return
    with smtp_server(request.param, folder=tmp_path) as server:
        mailer = SmtpMailer.from_url(
            server.url, sender=SENDER, base_url=BASE_URL, ssl_context=server.client_context
        )
        yield MailerUnderTest(mailer, lambda: list(server.inbox.messages))


def test_an_email_arrives_with_its_link_made_absolute(under_test):
    under_test.mailer.send(
        Email(
            to="ana@example.test",
            subject="hitrack: reset your password",
            body="Open the link to choose a new password.",
            url="/password/reset/abc",
        )
    )
    [message] = under_test.received()
    assert message["To"] == "ana@example.test"
    assert message["From"] == SENDER
    assert message["Subject"] == "hitrack: reset your password"
    assert message["Message-ID"] and message["Date"]
    assert message.get_content().splitlines() == [
        "Open the link to choose a new password.",
        "",
        "https://hitrack.example/password/reset/abc",
    ]


def test_each_email_is_its_own_message_and_text_beyond_ascii_survives(under_test):
    under_test.mailer.send(Email("zoë@example.test", "Première écoute 🎧", "Très bien — merci."))
    under_test.mailer.send(Email("bo@example.test", "Second", "Two."))
    first, second = under_test.received()
    assert (first["Subject"], first.get_content().strip()) == (
        "Première écoute 🎧",
        "Très bien — merci.",
    )
    assert first["To"] == "zoë@example.test"
    assert (second["To"], second["Subject"]) == ("bo@example.test", "Second")


def test_a_subject_cannot_add_headers(under_test):
    under_test.mailer.send(Email("ana@example.test", "Hi\r\nBcc: eve@evil.test\nX-Evil: 1", "Body"))
    [message] = under_test.received()
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hi Bcc: eve@evil.test X-Evil: 1"


def test_smtp_logs_in_after_starttls_with_the_urls_credentials(tmp_path):
    credentials = ("mailer@example.test", "s3cret pass")
    with smtp_server("starttls", folder=tmp_path, credentials=credentials) as server:
        url = server.url.replace(
            "mailer@example.test:s3cret pass", "mailer%40example.test:s3cret%20pass"
        )
        good = SmtpMailer.from_url(url, sender=SENDER, ssl_context=server.client_context)
        good.send(Email("ana@example.test", "Hello", "Body"))
        assert [m["Subject"] for m in server.inbox.messages] == ["Hello"]

        wrong = SmtpMailer.from_url(
            url.replace("s3cret%20pass", "wrong"), sender=SENDER, ssl_context=server.client_context
        )
        with pytest.raises(ProviderUnavailable, match="SMTP server 127.0.0.1"):
            wrong.send(Email("ana@example.test", "Again", "Body"))
        assert len(server.inbox.messages) == 1


def test_tls_refuses_a_server_whose_certificate_is_not_trusted(tmp_path):
    with smtp_server("ssl", folder=tmp_path) as server:
        mailer = SmtpMailer.from_url(server.url, sender=SENDER)  # the system's trust store only
        with pytest.raises(ProviderUnavailable):
            mailer.send(Email("ana@example.test", "Hello", "Body"))
        assert server.inbox.messages == []


def test_an_unreachable_smtp_server_is_a_provider_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe closes
    mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER, timeout=5)
    with pytest.raises(ProviderUnavailable, match=f"127.0.0.1:{port}"):
        mailer.send(Email("ana@example.test", "Hello", "Body"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.internal", ("relay.internal", 25, "plain", None, None)),
        (
            "smtp+starttls://u:p%2Fq@mail.example.test",
            ("mail.example.test", 587, "starttls", "u", "p/q"),
        ),
        ("smtps://mail.example.test:2465", ("mail.example.test", 2465, "ssl", None, None)),
    ],
)
def test_the_url_scheme_says_how_the_connection_is_protected(url, expected):
    address = parse_smtp_url(url)
    assert (
        address.host,
        address.port,
        address.security,
        address.username,
        address.password,
    ) == expected


@pytest.mark.parametrize(
    "url", ["http://mail.example.test", "smtp://", "smtp://host:99999", "mail"]
)
def test_a_bad_smtp_url_is_refused_by_the_settings(url):
    with pytest.raises(InvalidInput, match="HITRACK_SMTP_URL"):
        Settings.from_env({"HITRACK_SMTP_URL": url})


def test_the_settings_pick_the_mailer(tmp_path):
    console = Settings(data_dir=tmp_path)
    assert console.mail_transport == "console"
    smtp = Settings.from_env(
        {"HITRACK_DATA_DIR": str(tmp_path), "HITRACK_SMTP_URL": "smtps://m.example"}
    )
    assert smtp.mail_transport == "smtp"
    with pytest.raises(InvalidInput, match="HITRACK_SMTP_URL"):
        Settings.from_env({"HITRACK_MAILER": "smtp"})
    with pytest.raises(InvalidInput, match="HITRACK_MAILER"):
        Settings.from_env({"HITRACK_MAILER": "pigeon"})
    from hitrack.providers import mailer

    assert isinstance(mailer(console), DevMailbox)
    built = mailer(smtp)
    assert isinstance(built, SmtpMailer) and built.address.security == "ssl"
    with pytest.raises(ValueError, match="unknown mailer"):
        make_mailer("pigeon", mailbox_dir=tmp_path, smtp_url=None, sender=SENDER, base_url="")


def test_the_console_mailer_also_writes_a_line_and_keeps_only_the_newest(tmp_path, caplog):
    mailbox = DevMailbox(tmp_path / "mailbox", sender=SENDER, base_url=BASE_URL, keep=3)
    with caplog.at_level(logging.INFO, logger="hitrack.mail"):
        for n in range(5):
            mailbox.send(Email("ana@example.test", f"Mail {n}", "Body", url=f"/n/{n}"))
    assert [m["Subject"] for m in mailbox.messages()] == ["Mail 4", "Mail 3", "Mail 2"]
    assert len(list((tmp_path / "mailbox").iterdir())) == 3
    assert "subject='Mail 4' link=https://hitrack.example/n/4" in caplog.text
