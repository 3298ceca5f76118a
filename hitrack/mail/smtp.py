"""Mail through an SMTP server, with the standard library's :mod:`smtplib`.

The server is named by one URL (``HITRACK_SMTP_URL``); its scheme says how the
connection is protected:

- ``smtp://host[:25]``: plain SMTP, for a relay on the same host or network;
- ``smtp+starttls://host[:587]``: plain, then upgraded with STARTTLS (submission);
- ``smtps://host[:465]``: TLS from the first byte.

A user and password in the URL (percent-encoded) log in after the connection
is protected. One connection per e-mail: mail here is a trickle, not a flood.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hitrack.domain.errors import InvalidInput, ProviderUnavailable
from hitrack.mail.base import Email, build_message

__all__ = ["SmtpAddress", "SmtpMailer", "parse_smtp_url", "SECURITY_BY_SCHEME"]

#: URL scheme -> (how the connection is protected, default port).
SECURITY_BY_SCHEME = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("ssl", 465),
}


@dataclass(frozen=True)
class SmtpAddress:
    host: str
    port: int
    security: str
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpAddress:
    """Split an SMTP URL into its parts.

    >>> parse_smtp_url("smtp+starttls://mailer%40example.test:s3cret@mail.example.test")
    SmtpAddress(host='mail.example.test', port=587, security='starttls', username='mailer@example.test', password='s3cret')
    >>> parse_smtp_url("smtp://127.0.0.1:2525").security
    'plain'
    """
    parts = urlsplit(url)
    if parts.scheme not in SECURITY_BY_SCHEME:
        schemes = ", ".join(f"{s}://" for s in SECURITY_BY_SCHEME)
        raise InvalidInput(f"the scheme must be one of {schemes}")
    security, default_port = SECURITY_BY_SCHEME[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise InvalidInput("the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise InvalidInput("name the server, e.g. smtps://mail.example.test")
    return SmtpAddress(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpMailer:
    """Sends each e-mail over a new SMTP connection."""

    def __init__(
        self,
        address: SmtpAddress,
        *,
        sender: str,
        base_url: str = "",
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.address = address
        self.sender = sender
        self.base_url = base_url
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        sender: str,
        base_url: str = "",
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> SmtpMailer:
        return cls(
            parse_smtp_url(url),
            sender=sender,
            base_url=base_url,
            timeout=timeout,
            ssl_context=ssl_context,
        )

    def send(self, email: Email) -> None:
        message = build_message(email, sender=self.sender, base_url=self.base_url)
        address = self.address
        try:
            with self._connect() as smtp:
                if address.security == "starttls":
                    smtp.starttls(context=self.ssl_context)
                if address.username:
                    smtp.login(address.username, address.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise ProviderUnavailable(
                f"SMTP server {address.host}:{address.port} refused or failed: {error}"
            ) from error

    def _connect(self) -> smtplib.SMTP:
        address = self.address
        if address.security == "ssl":
            return smtplib.SMTP_SSL(
                address.host, address.port, timeout=self.timeout, context=self.ssl_context
            )
        return smtplib.SMTP(address.host, address.port, timeout=self.timeout)
