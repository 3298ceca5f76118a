"""Outgoing e-mail: a small protocol, a development mailbox and SMTP.

:class:`Mailer` is the protocol: it sends one :class:`Email`. The embedded
default :class:`DevMailbox` writes every e-mail to the ``hitrack.mail`` logger
and keeps it as a file that the development mailbox page shows;
:class:`SmtpMailer` hands it to an SMTP server (``HITRACK_SMTP_URL``).
:func:`make_mailer` picks one from plain values. Use cases never send mail
themselves: they queue it with
:func:`hitrack.services.notifications.send_after_commit`, so nobody is mailed
about a change that rolled back.
"""

from hitrack.mail.base import Email, Mailer, absolute_url, build_message
from hitrack.mail.console import DevMailbox, LogMailer
from hitrack.mail.factory import MAILER_KINDS, make_mailer
from hitrack.mail.smtp import SmtpAddress, SmtpMailer, parse_smtp_url

__all__ = [
    "MAILER_KINDS",
    "DevMailbox",
    "Email",
    "LogMailer",
    "Mailer",
    "SmtpAddress",
    "SmtpMailer",
    "absolute_url",
    "build_message",
    "make_mailer",
    "parse_smtp_url",
]
