"""Pick and build the mailer named by a setting, from plain values."""

from __future__ import annotations

from pathlib import Path

from hitrack.mail.base import Mailer
from hitrack.mail.console import DevMailbox
from hitrack.mail.smtp import SmtpMailer

__all__ = ["MAILER_KINDS", "make_mailer"]

MAILER_KINDS = ("console", "smtp")


def make_mailer(
    kind: str, *, mailbox_dir: Path, smtp_url: str | None, sender: str, base_url: str
) -> Mailer:
    """Build the mailer for ``kind``: ``"console"`` (log + mailbox folder) or ``"smtp"``.

    Raises
    ------
    ValueError
        For an unknown kind, or ``"smtp"`` without a URL.

    Examples
    --------
    >>> import tempfile
    >>> mailer = make_mailer("smtp", mailbox_dir=Path(tempfile.gettempdir()) / "mailbox",
    ...                      smtp_url="smtps://mail.example.test", sender="no-reply@localhost",
    ...                      base_url="http://127.0.0.1:5000")
    >>> type(mailer).__name__, mailer.address.port
    ('SmtpMailer', 465)
    """
    if kind == "console":
        return DevMailbox(mailbox_dir, sender=sender, base_url=base_url)
    if kind == "smtp":
        if not smtp_url:
            raise ValueError("mailer 'smtp' needs HITRACK_SMTP_URL")
        return SmtpMailer.from_url(smtp_url, sender=sender, base_url=base_url)
    choices = " or ".join(repr(choice) for choice in MAILER_KINDS)
    raise ValueError(f"unknown mailer {kind!r}: expected {choices}")
