"""Mail for development: a line on the console and a mailbox folder the site can show."""

from __future__ import annotations

import logging
import os
import time
import uuid
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

from hitrack.mail.base import Email, absolute_url, build_message

__all__ = ["LogMailer", "DevMailbox", "mail_log"]

mail_log = logging.getLogger("hitrack.mail")


class LogMailer:
    """Every e-mail becomes one line on the ``hitrack.mail`` logger."""

    def __init__(self, base_url: str = "", logger: logging.Logger | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.logger = logger or mail_log

    def send(self, email: Email) -> None:
        link = f" link={absolute_url(self.base_url, email.url)}" if email.url else ""
        self.logger.info(
            "mail to=%s subject=%r%s body=%r", email.to, email.subject, link, email.body
        )


class DevMailbox:
    """The embedded default: log each e-mail and keep it as an ``.eml`` file in ``folder``.

    The development mailbox page lists the newest files; only the newest
    ``keep`` are kept. For development only: reset links sit in plain files.
    """

    def __init__(
        self,
        folder: Path,
        *,
        sender: str,
        base_url: str = "",
        keep: int = 200,
        logger: logging.Logger | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.sender = sender
        self.base_url = base_url
        self.keep = keep
        self._log = LogMailer(base_url, logger)

    def send(self, email: Email) -> None:
        self._log.send(email)
        message = build_message(email, sender=self.sender, base_url=self.base_url)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(message.as_bytes(policy=email_policy.SMTP))
        os.replace(partial, self.folder / name)  # the page never reads half a message
        for old in self._files()[self.keep :]:
            old.unlink(missing_ok=True)

    def messages(self, limit: int = 50) -> list[EmailMessage]:
        """The newest ``limit`` e-mails, newest first."""
        found = []
        for path in self._files()[:limit]:
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # pruned by a concurrent send
                continue
            parsed = message_from_bytes(data, policy=email_policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.eml"), reverse=True)
