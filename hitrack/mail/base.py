"""What an e-mail is, what sends one, and the one way a message is built from it."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

__all__ = ["Email", "Mailer", "absolute_url", "build_message"]


@dataclass(frozen=True)
class Email:
    """One e-mail: ``url`` is a path on the site, the mailer makes it absolute."""

    to: str
    subject: str
    body: str
    url: str | None = None


class Mailer(Protocol):
    """Sends one e-mail. Called after the transaction that caused it has committed."""

    def send(self, email: Email) -> None: ...


def absolute_url(base_url: str, path: str) -> str:
    """``path`` on the site at ``base_url``.

    >>> absolute_url("https://hitrack.example/", "/password/reset/abc")
    'https://hitrack.example/password/reset/abc'
    """
    return f"{base_url.rstrip('/')}{path}"


def build_message(email: Email, *, sender: str, base_url: str) -> EmailMessage:
    """The RFC 5322 message for ``email``: plain text, the link on a line of its own.

    Line breaks in the subject become spaces, so a title can never add a header.

    >>> message = build_message(
    ...     Email("ana@example.test", "Hello\\nBcc: x@evil.test", "Hi.", url="/works/w1"),
    ...     sender="hitrack <no-reply@hitrack.example>",
    ...     base_url="https://hitrack.example",
    ... )
    >>> message["Subject"], message["To"]
    ('Hello Bcc: x@evil.test', 'ana@example.test')
    >>> message.get_content().splitlines()
    ['Hi.', '', 'https://hitrack.example/works/w1']
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = " ".join(email.subject.split())
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2].rstrip(">").strip() or None
    message["Message-ID"] = make_msgid(domain=domain)
    body = email.body
    if email.url:
        body = f"{body}\n\n{absolute_url(base_url, email.url)}"
    message.set_content(body + "\n")
    return message
