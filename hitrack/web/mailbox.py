"""The development mailbox: the e-mails the console mailer kept, newest first.

Registered only when ``HITRACK_ENV`` is ``development`` or ``test``; in production mail goes out
through SMTP and there is nothing to show.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from hitrack.mail import DevMailbox
from hitrack.web.context import mailer

bp = Blueprint("mailbox", __name__, url_prefix="/dev")


@bp.get("/mailbox")
def index() -> str:
    current = mailer()
    messages = current.messages() if isinstance(current, DevMailbox) else None
    return render_template("dev/mailbox.html", messages=messages)
