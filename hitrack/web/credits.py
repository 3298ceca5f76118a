"""Pages for credits: the editor, the credits I hold, the claim page, the escrow report,
and the admin's verification of creators. Each parses, calls one service, renders."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from hitrack.db.models import Creator
from hitrack.domain.credit_roles import CREDIT_ROLES
from hitrack.domain.errors import InvalidInput, PermissionDenied
from hitrack.domain.shares import format_share
from hitrack.services import credit_earnings, verification
from hitrack.services import credits as credit_service
from hitrack.services.graph import visible_work
from hitrack.web.context import db, mailer, settings
from hitrack.web.signed_in import actor, is_signed_in, login_required, me

bp = Blueprint("credits", __name__)


def parse_editor_lines(text: str) -> tuple[credit_service.CreditEntry, ...]:
    """The editor's lines: ``name | role | weight | handle or e-mail | id`` (id keeps a credit)."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) < 4 or len(cells) > 5:
            raise InvalidInput(
                f"line {number}: expected name | role | weight | handle or e-mail [| id]"
            )
        who = cells[3]
        entries.append(
            credit_service.CreditEntry(
                name=cells[0],
                role=cells[1],
                weight=cells[2],
                creator=None if "@" in who else (who or None),
                email=who if "@" in who else None,
                id=cells[4] if len(cells) == 5 and cells[4] else None,
            )
        )
    return tuple(entries)


def editor_text(work_credits: list[object]) -> str:
    lines = []
    for c in work_credits:
        who = c.creator.handle if c.creator else (c.invite_email or "")  # type: ignore[attr-defined]
        lines.append(
            f"{c.name} | {c.role} | {format_share(c.weight)} | {who} | {c.public_id}"  # type: ignore[attr-defined]
        )
    return "\n".join(lines)


@bp.route("/works/<public_id>/credits", methods=["GET", "POST"])
@login_required
def editor(public_id: str) -> BaseResponse | str:
    work = visible_work(db(), me(), public_id)
    if not work.is_owned_by(me().id):
        raise PermissionDenied(f"only the owners of {work.public_id} edit its credits")
    if request.method == "POST":
        credit_service.set_credits(
            db(),
            me(),
            public_id,
            credit_service.CreditsInput(
                parse_editor_lines(request.form.get("credits", "")),
                request.form.get("credit_pool", "0"),
            ),
            min_credit_pool=settings().min_credit_pool,
            mailer=mailer(),
        )
        return redirect(url_for("pages.work", public_id=public_id))
    live = [c for c in work.credits if c.removed_at is None]
    return render_template(
        "credits/editor.html",
        work=work,
        text=editor_text(live),  # type: ignore[arg-type]
        roles=CREDIT_ROLES,
        found=credit_service.search_creators(db(), request.args.get("q", "")),
        q=request.args.get("q", ""),
        min_pool=settings().min_credit_pool,
    )


@bp.route("/credits")
@login_required
def held() -> str:
    items = credit_service.credits_held(db(), me())
    return render_template(
        "credits/held.html",
        items=items,
        earnings=credit_earnings.escrow_earnings(db(), items, me()),
        verified=verification.is_verified(db(), me().id),
    )


@bp.route("/credits/claim/<invitation>", methods=["GET", "POST"])
def claim(invitation: str) -> BaseResponse | str:
    token = invitation
    credit = credit_service.credit_by_token(db(), token)
    if request.method == "POST":
        if not is_signed_in():
            return redirect(url_for("auth.login", next=request.path))
        credit_service.claim_credit(
            db(),
            me(),
            credit.public_id,
            token,
            dispute_days=settings().claim_dispute_days,
            mailer=mailer(),
        )
        return redirect(url_for("credits.held"))
    viewer = actor()
    return render_template(
        "credits/claim.html",
        credit=credit,
        held=credit_service.escrow_balances(db(), credit),
        earnings=credit_earnings.escrow_earnings(db(), [credit], viewer),
        me=viewer,
        verified=viewer is not None and verification.is_verified(db(), viewer.id),
        dispute_days=settings().claim_dispute_days,
    )


@bp.route("/works/<public_id>/escrow")
@login_required
def escrow(public_id: str) -> str:
    work = visible_work(db(), me(), public_id)
    lines = credit_service.escrow_report(db(), me(), public_id)
    return render_template("credits/escrow.html", work=work, lines=lines)


@bp.route("/admin/escrow")
@login_required
def escrow_all() -> str:
    lines = credit_service.escrow_report(db(), me())
    return render_template("credits/escrow.html", work=None, lines=lines)


@bp.route("/credits/<credit_id>/<action>", methods=["POST"])
@login_required
def decide(credit_id: str, action: str) -> Response | BaseResponse:
    if action == "confirm":
        credit = credit_service.confirm_claim(db(), me(), credit_id)
    elif action == "dispute":
        credit = credit_service.dispute_claim(db(), me(), credit_id, request.form.get("reason"))
    else:
        raise InvalidInput(f"unknown action {action!r}")
    return redirect(url_for("credits.escrow", public_id=credit.work.public_id))


@bp.route("/admin/verify", methods=["GET", "POST"])
@login_required
def verify() -> BaseResponse | str:
    if not me().is_admin:
        raise PermissionDenied("only an admin verifies creators")
    if request.method == "POST":
        row = verification.verify_by_admin(
            db(), me(), request.form.get("creator"), request.form.get("reason")
        )
        verified = db().get(Creator, row.creator_id)
        name = verified.display_name if verified else request.form.get("creator")
        flash(f"{name} is verified: {row.reason}", "success")
        return redirect(url_for("credits.verify", q=request.form.get("creator")))
    return render_template(
        "credits/verify.html",
        found=credit_service.search_creators(db(), request.args.get("q", "")),
        q=request.args.get("q", ""),
    )


@bp.app_context_processor
def _credit_helpers() -> dict[str, object]:
    """``verified_among(ids)`` for badges: one query for the creators a page shows."""

    def verified_among(ids: list[int]) -> set[int]:
        return verification.verified_ids(db(), ids)

    return {"verified_among": verified_among}
