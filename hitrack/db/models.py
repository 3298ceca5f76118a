"""SQLAlchemy 2 typed models: creators, works, owners, citations, tokens.

Shares and fractions are stored exactly as a numerator and a denominator
(``*_num``/``*_den``), never as floats; the ``share`` properties give them
back as :class:`fractions.Fraction`. The schema itself is created only by the
Alembic migrations in ``migrations/``; a test checks the two agree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import overload

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hitrack.db.base import Base, utcnow
from hitrack.db.types import UTCDateTime
from hitrack.domain.errors import InvalidShare

__all__ = [
    "Creator",
    "ApiToken",
    "PasswordReset",
    "Work",
    "WorkOwner",
    "Citation",
    "GraphState",
    "CompactGraphRow",
    "SETTLEMENT_MODES",
    "Credit",
    "CLAIM_STATES",
    "RecordSubject",
    "WORK_KINDS",
    "ROLES",
    "ProposalRevision",
    "ProposalLine",
    "ProductionLog",
    "Comment",
    "Notification",
    "AttributionSignature",
    "AttributionOutput",
    "AttributionMatch",
    "RevenueEvent",
    "REVENUE_STATES",
    "FUNDING_METHODS",
    "Allocation",
    "SettlementPeriod",
    "CreditEarning",
    "LedgerAccount",
    "LedgerTransaction",
    "LedgerPosting",
    "PayoutAccount",
    "CreatorVerification",
    "VERIFICATION_SOURCES",
    "PayoutRun",
    "Payout",
    "WebhookEvent",
    "Job",
    "JOB_STATUSES",
    "OpenCall",
    "CALL_STATUSES",
    "CallAnswer",
    "ANSWER_STATUSES",
    "Follow",
    "NotificationPreference",
    "SearchEntry",
    "SEARCH_INDEX_OBJECTS",
]

WORK_KINDS = ("record", "production", "model")
ROLES = ("creator", "admin")
_MAX_DB_INT = 2**63 - 1


def fraction_columns(value: Fraction) -> tuple[int, int]:
    """Split a fraction for storage; refuse what a BIGINT cannot hold exactly."""
    value = Fraction(value)
    if abs(value.numerator) > _MAX_DB_INT or value.denominator > _MAX_DB_INT:
        raise InvalidShare(f"{value} has too many digits to store exactly")
    return value.numerator, value.denominator


class ExactFraction:
    """A :class:`~fractions.Fraction` kept in two BIGINT columns, ``<name>_num`` and ``<name>_den``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.num, self.den = f"{name}_num", f"{name}_den"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> ExactFraction: ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> Fraction: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> Fraction | ExactFraction:
        if obj is None:
            return self
        return Fraction(getattr(obj, self.num), getattr(obj, self.den))

    def __set__(self, obj: object, value: Fraction) -> None:
        numerator, denominator = fraction_columns(value)
        setattr(obj, self.num, numerator)
        setattr(obj, self.den, denominator)


class Creator(Base):
    """A person with an account. Owns works, receives money.

    The login-session protocol (``is_authenticated`` & co.) is spelled out here
    as plain attributes so the model needs nothing from Flask.
    """

    __tablename__ = "creators"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="creator")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Part of every log-in session's id: raising it ends every session signed before.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Whether the public profile lists the AI models trained on this creator's works.
    show_models_on_profile: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )

    __table_args__ = (CheckConstraint("role IN ('creator', 'admin')", name="role"),)

    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        """The id a log-in session keeps: the creator and the session generation."""
        return f"{self.id}:{self.session_generation}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<Creator {self.handle}>"


class ApiToken(Base):
    """A bearer token for scripts. Only its SHA-256 is stored; the token is shown once.

    A token authenticates until ``expires_at`` unless revoked before.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    creator: Mapped[Creator] = relationship()

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class PasswordReset(Base):
    """A password-reset link sent by e-mail: single use, expiring; only its SHA-256 is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    creator: Mapped[Creator] = relationship()


class Work(Base):
    """A node of the contribution graph: a record, a production or a model."""

    __tablename__ = "works"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consent_remix: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_ai_training: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    media_key: Mapped[str | None] = mapped_column(String(200))
    media_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(100))
    media_kind: Mapped[str | None] = mapped_column(String(16))
    media_filename: Mapped[str | None] = mapped_column(String(255))
    # What the uploaded file's own Content Credentials said (C2PA), as read and
    # validated on upload, with the works they name that the uploader may cite.
    media_provenance: Mapped[dict[str, object] | None] = mapped_column(JSON)
    attribution_weight_num: Mapped[int] = mapped_column(BigInteger, default=0)
    attribution_weight_den: Mapped[int] = mapped_column(BigInteger, default=1)
    attribution_weight = ExactFraction()
    # The part of the work's retained value paid to its credits (DESIGN section 1).
    credit_pool_num: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    credit_pool_den: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    credit_pool = ExactFraction()
    # Productions move draft -> proposed -> finalized (or cancelled); records and
    # models are "active" from the start. Only finalized productions earn.
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Models: each registered version is its own work (its manifest frozen with
    # it); versions of one model share the family id of the first version.
    version: Mapped[str | None] = mapped_column(String(40))
    family_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"), index=True)
    # ``immediate`` or ``period``; None: the default for its kind and size
    # (hitrack.services.settlement.settlement_mode).
    settlement_mode: Mapped[str | None] = mapped_column(String(16))
    # A small JPEG made from an image record at upload (hitrack.services.media).
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))
    # The owner's words for finding it, lower-case, at most MAX_TAGS.
    tags: Mapped[list[str] | None] = mapped_column(JSON)
    # Hidden by its owner: out of lists, still in the graph (a cited record is
    # never deleted; hitrack.services.record_edit).
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        CheckConstraint("kind IN ('record', 'production', 'model')", name="kind"),
        CheckConstraint(
            "status IN ('active', 'draft', 'proposed', 'finalized', 'cancelled')", name="status"
        ),
        CheckConstraint("visibility IN ('public', 'private')", name="visibility"),
        CheckConstraint(
            "attribution_weight_den > 0 AND attribution_weight_num >= 0 "
            "AND attribution_weight_num <= attribution_weight_den",
            name="attribution_weight",
        ),
        CheckConstraint(
            "settlement_mode IS NULL OR settlement_mode IN ('immediate', 'period')",
            name="settlement_mode",
        ),
        Index("ix_works_created_at", "created_at"),
    )

    owners: Mapped[list[WorkOwner]] = relationship(
        back_populates="work", cascade="all, delete-orphan", order_by="WorkOwner.creator_id"
    )
    sources: Mapped[list[Citation]] = relationship(
        back_populates="work", foreign_keys="Citation.work_id", order_by="Citation.id"
    )
    cited_by: Mapped[list[Citation]] = relationship(
        back_populates="source",
        foreign_keys="Citation.source_id",
        order_by="Citation.id",
        viewonly=True,
    )
    created_by: Mapped[Creator | None] = relationship()
    credits: Mapped[list[Credit]] = relationship(
        back_populates="work", order_by="Credit.position", viewonly=True
    )

    @property
    def retained_share(self) -> Fraction:
        return 1 - sum((c.share for c in self.sources), Fraction(0))

    def is_owned_by(self, creator_id: int | None) -> bool:
        return creator_id is not None and any(o.creator_id == creator_id for o in self.owners)

    def __repr__(self) -> str:
        return f"<Work {self.public_id} {self.kind}>"


class WorkOwner(Base):
    """One owner of a work and their ownership fraction (a work's fractions sum to 1)."""

    __tablename__ = "work_owners"

    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), primary_key=True, index=True)
    fraction_num: Mapped[int] = mapped_column(BigInteger)
    fraction_den: Mapped[int] = mapped_column(BigInteger)
    fraction = ExactFraction()
    # The graph version this row was written in (hitrack.services.graph_version).
    graph_version: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        CheckConstraint(
            "fraction_den > 0 AND fraction_num > 0 AND fraction_num <= fraction_den",
            name="fraction",
        ),
    )

    work: Mapped[Work] = relationship(back_populates="owners")
    creator: Mapped[Creator] = relationship()


class Citation(Base):
    """An edge ``work -> source``: the fraction of the work's value that belongs to the source."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    share_num: Mapped[int] = mapped_column(BigInteger)
    share_den: Mapped[int] = mapped_column(BigInteger)
    share = ExactFraction()
    credit_role: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    # The graph version this citation was written in: citations are never
    # rewritten, so the graph of any past version is the rows up to it.
    graph_version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)

    __table_args__ = (
        UniqueConstraint("work_id", "source_id", name="uq_citations_work_id_source_id"),
        CheckConstraint("work_id <> source_id", name="not_self"),
        CheckConstraint("share_den > 0 AND share_num > 0 AND share_num <= share_den", name="share"),
        # Keyset pages of a work's citers and sources (hitrack.services.work_links).
        Index("ix_citations_source_id_id", "source_id", "id"),
        Index("ix_citations_work_id_id", "work_id", "id"),
    )

    work: Mapped[Work] = relationship(back_populates="sources", foreign_keys=[work_id])
    source: Mapped[Work] = relationship(back_populates="cited_by", foreign_keys=[source_id])


SETTLEMENT_MODES = ("immediate", "period")


class GraphState(Base):
    """The graph version: one row, bumped by every write to works' owners and citations.

    A stored compact graph is valid only for the version it was built at;
    ``token`` is drawn anew at each bump, so a version number reused after a
    rolled-back transaction never matches a graph built for the other one.
    """

    __tablename__ = "graph_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    token: Mapped[str] = mapped_column(String(32), default="")


class CompactGraphRow(Base):
    """The fast engine's stored form of the whole graph at one graph version (``.npz`` bytes)."""

    __tablename__ = "compact_graphs"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32), default="")
    works: Mapped[int] = mapped_column(BigInteger)
    citations: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Credits and likeness: the people who made a work, and who appear in a record --

#: ``unclaimed`` (money to its escrow) -> ``pending`` (claimed, within the owners'
#: dispute window; money still to escrow) -> ``claimed`` (linked to a creator, who is
#: paid directly). A credit the owner links to an account is ``claimed`` from the start.
CLAIM_STATES = ("unclaimed", "pending", "claimed")


class Credit(Base):
    """A named person credited on a work with a role and a weight (DESIGN section 1).

    Linked to a creator (``creator_id``) or unclaimed: a name and an invitation
    by e-mail, of which only the token's SHA-256 is kept.
    """

    __tablename__ = "credits"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(120))
    weight_num: Mapped[int] = mapped_column(BigInteger)
    weight_den: Mapped[int] = mapped_column(BigInteger)
    weight = ExactFraction()
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"), index=True)
    invite_email: Mapped[str | None] = mapped_column(String(254))
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="unclaimed")
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a pending claim becomes final unless the owners dispute it first.
    claim_final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the credit is taken off its work: its escrow stays, it is paid no more.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("weight_den > 0 AND weight_num > 0", name="weight"),
        CheckConstraint("status IN ('unclaimed', 'pending', 'claimed')", name="status"),
    )

    work: Mapped[Work] = relationship()
    creator: Mapped[Creator | None] = relationship(foreign_keys=[creator_id])
    claimed_by: Mapped[Creator | None] = relationship(foreign_keys=[claimed_by_id])


class RecordSubject(Base):
    """A person whose likeness (face, voice, body) appears in a record, and their AI consent.

    ``consent_ai_training`` is None until the subject answers; a record enters
    a model's manifest only if every subject said yes.
    """

    __tablename__ = "record_subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    likeness: Mapped[str] = mapped_column(String(40), default="")
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"), index=True)
    invite_email: Mapped[str | None] = mapped_column(String(254))
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_ai_training: Mapped[bool | None] = mapped_column(Boolean)
    consent_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    work: Mapped[Work] = relationship()
    creator: Mapped[Creator | None] = relationship()


# --- Productions: payment proposals, their comment window, notifications -----


class ProposalRevision(Base):
    """One published version of a production's split; each revision restarts the window."""

    __tablename__ = "proposal_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    published_by_id: Mapped[int] = mapped_column(ForeignKey("creators.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    window_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("production_id", "number", name="uq_proposal_revisions_number"),
    )

    lines: Mapped[list[ProposalLine]] = relationship(
        back_populates="revision", cascade="all, delete-orphan", order_by="ProposalLine.id"
    )


class ProposalLine(Base):
    """A contribution in a revision: the source, its credit role and its share."""

    __tablename__ = "proposal_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("proposal_revisions.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("works.id"))
    credit_role: Mapped[str | None] = mapped_column(String(80))
    share_num: Mapped[int] = mapped_column(BigInteger)
    share_den: Mapped[int] = mapped_column(BigInteger)
    share = ExactFraction()

    revision: Mapped[ProposalRevision] = relationship(back_populates="lines")
    source: Mapped[Work] = relationship()


class ProductionLog(Base):
    """Every state change of a production, with who and when (append-only)."""

    __tablename__ = "production_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Creator | None] = relationship()


class Comment(Base):
    """A comment on a production's proposal; an objection when ``is_objection``."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("proposal_revisions.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("creators.id"))
    body: Mapped[str] = mapped_column(Text)
    is_objection: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The producer's answer to an objection, and when they marked it resolved
    # (an objection is open until then; finalizing over open ones needs a confirmation).
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[Creator] = relationship()

    @property
    def is_open_objection(self) -> bool:
        return self.is_objection and self.resolved_at is None


class Notification(Base):
    """An in-app notification for one creator."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Attribution: signatures of records, outputs of models and their matches ---


class AttributionSignature(Base):
    """One signature part of a record (e.g. its text embedding), computed once for every model.

    ``status`` is ``failed`` (with the reason) when the media could not be read
    for that signal, so it is not retried until the signal's version changes.
    """

    __tablename__ = "attribution_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    part: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ok")
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "work_id", "part", "version", name="uq_attribution_signatures_work_part_version"
        ),
        CheckConstraint("status IN ('ok', 'failed')", name="status"),
    )


class AttributionOutput(Base):
    """One output of a model submitted for attribution, with how it was matched."""

    __tablename__ = "attribution_outputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("creators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What was submitted (text, image, audio, or the operator's own scores), the
    # signal that scored it and the threshold a match had to reach.
    kind: Mapped[str] = mapped_column(String(16))
    signal: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(Text, default="")
    threshold: Mapped[float | None] = mapped_column(Float)
    content_type: Mapped[str | None] = mapped_column(String(100))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    content_size: Mapped[int | None] = mapped_column(BigInteger)
    excerpt: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (CheckConstraint("kind IN ('text', 'image', 'audio', 'scores')", name="kind"),)

    model: Mapped[Work] = relationship()
    created_by: Mapped[Creator] = relationship()
    matches: Mapped[list[AttributionMatch]] = relationship(
        back_populates="output", order_by="AttributionMatch.id"
    )


class AttributionMatch(Base):
    """A manifest record an output matched: its score, the signal, and its part of 10^6."""

    __tablename__ = "attribution_matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("attribution_outputs.id"), index=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    signal: Mapped[str] = mapped_column(String(16))
    share: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("output_id", "work_id", name="uq_attribution_matches_output_work"),
        CheckConstraint("share >= 0 AND share <= 1000000", name="share"),
    )

    output: Mapped[AttributionOutput] = relationship(back_populates="matches")
    work: Mapped[Work] = relationship()


# --- Revenue and the ledger ----------------------------------------------------


REVENUE_STATES = ("reported", "funded", "settled", "rejected")
FUNDING_METHODS = ("on_arrival", "checkout", "manual")


class RevenueEvent(Base):
    """Money earned by one work; settled once, idempotent on its external id.

    ``state`` (DESIGN section 1): ``reported`` (an operator's claim, no money
    yet) -> ``funded`` (the money arrived: ``funding_transaction_id``) ->
    ``settled`` (allocated: ``transaction_id``), or ``reported`` ->
    ``rejected``. Events recorded by an admin, a CSV import or a Stripe sale
    are funded on arrival. ``fee``, ``recouped`` and ``distributable`` are set
    when the event settles.
    """

    __tablename__ = "revenue_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))  # api | csv | stripe
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    costs: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_rate_num: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_rate_den: Mapped[int] = mapped_column(BigInteger, default=1)
    fee_rate = ExactFraction()
    attribution: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # The attributed output whose vector the event's attribution is (None: inline or none).
    output: Mapped[str | None] = mapped_column(
        ForeignKey("attribution_outputs.public_id"), index=True
    )
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    recouped: Mapped[int] = mapped_column(BigInteger, default=0)
    distributable: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    state: Mapped[str] = mapped_column(String(16), default="reported", index=True)
    funding_method: Mapped[str | None] = mapped_column(String(16))
    # The checkout session that paid it, or the admin's note of the payment.
    funding_reference: Mapped[str | None] = mapped_column(String(255))
    funding_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The admin who confirmed a manual funding or rejected the report.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    # The graph version it settled at (its explanation replays that graph) and
    # the settlement period it settled in (None: settled on its own).
    graph_version: Mapped[int | None] = mapped_column(BigInteger)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_periods.id"), index=True)

    __table_args__ = (
        Index("ix_revenue_events_state_funded_at", "state", "funded_at"),
        CheckConstraint(
            "amount >= 0 AND costs >= 0 AND fee >= 0 AND recouped >= 0", name="amounts"
        ),
        CheckConstraint("state IN ('reported', 'funded', 'settled', 'rejected')", name="state"),
        CheckConstraint(
            "funding_method IS NULL OR funding_method IN ('on_arrival', 'checkout', 'manual')",
            name="funding_method",
        ),
        # Money moves only for funded events, and only settled ones are allocated.
        CheckConstraint(
            "(state IN ('reported', 'rejected') AND funding_transaction_id IS NULL "
            "AND transaction_id IS NULL) "
            "OR (state = 'funded' AND funding_transaction_id IS NOT NULL AND transaction_id IS NULL) "
            "OR (state = 'settled' AND funding_transaction_id IS NOT NULL "
            "AND transaction_id IS NOT NULL)",
            name="state_money",
        ),
    )

    work: Mapped[Work] = relationship()
    created_by: Mapped[Creator | None] = relationship(foreign_keys=[created_by_id])
    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="event", order_by="Allocation.id"
    )


class SettlementPeriod(Base):
    """One currency of a closed settlement period: its funded events settled as one batch.

    Unique per cut-off and currency, with one ledger transaction; its earning
    allocations are per creator (rounded once on the batch, DESIGN section 3
    step 8).
    """

    __tablename__ = "settlement_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    events: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    graph_version: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("until", "currency", name="uq_settlement_periods_until_currency"),
    )


class Allocation(Base):
    """One creator's part of one revenue event, or of one settlement period (its earnings).

    It stores the micros and the exact entitlement only; why it was paid is
    computed on demand (hitrack.services.explanations).
    """

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("revenue_events.id"), index=True)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_periods.id"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # earning | recoup
    amount: Mapped[int] = mapped_column(BigInteger)
    # The exact rational entitlement ("p/q"): it can outgrow any integer column.
    exact: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint(
            "event_id", "creator_id", "kind", name="uq_allocations_event_creator_kind"
        ),
        UniqueConstraint(
            "period_id", "creator_id", "kind", name="uq_allocations_period_creator_kind"
        ),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("(event_id IS NULL) <> (period_id IS NULL)", name="event_or_period"),
        # Keyset pages of a creator's earnings and statements.
        Index("ix_allocations_creator_id_id", "creator_id", "id"),
    )

    event: Mapped[RevenueEvent | None] = relationship(back_populates="allocations")
    period: Mapped[SettlementPeriod | None] = relationship()
    creator: Mapped[Creator] = relationship()


class CreditEarning(Base):
    """An unclaimed credit's part of one revenue event: paid into the credit's escrow."""

    __tablename__ = "credit_earnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("revenue_events.id"), index=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("credits.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    exact: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("event_id", "credit_id", name="uq_credit_earnings_event_credit"),
        CheckConstraint("amount >= 0", name="amount"),
    )

    event: Mapped[RevenueEvent] = relationship()
    credit: Mapped[Credit] = relationship()


class LedgerAccount(Base):
    """An account of the double-entry ledger; its balance is the sum of its postings."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # The running sum of the account's postings, kept by post_transaction in the
    # same database transaction, so the account cap is checked without summing
    # the account's whole history. The postings stay authoritative: ledger
    # check compares the two.
    balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    creator: Mapped[Creator | None] = relationship()


class LedgerTransaction(Base):
    """A balanced set of postings; append-only, unique on its idempotency key."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    postings: Mapped[list[LedgerPosting]] = relationship(
        back_populates="transaction", order_by="LedgerPosting.id"
    )


class LedgerPosting(Base):
    """One line of a transaction: a signed amount of micros on one account."""

    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings")
    account: Mapped[LedgerAccount] = relationship()


# --- Payouts and provider webhooks ---------------------------------------------


class PayoutAccountState(StrEnum):
    """Where a payout account stands; only a ``payable`` account is paid.

    ``status_reason`` says why in words for people; the code reads only this.
    """

    #: Created; the provider (or, for a manual method, an admin) has yet to clear it.
    ONBOARDING = "onboarding"
    PAYABLE = "payable"
    #: Was payable, then stopped (payouts disabled at Stripe, a bank refused a payout).
    PAUSED = "paused"
    #: The creator disconnected it at the provider: never paid again; connecting replaces it.
    DISCONNECTED = "disconnected"


class PayoutAccount(Base):
    """Where a creator is paid: a Stripe connected account, or a method an admin verified."""

    __tablename__ = "payout_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_account_id: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(
        String(16),
        default=PayoutAccountState.ONBOARDING.value,
        server_default=PayoutAccountState.ONBOARDING.value,
    )
    details: Mapped[str] = mapped_column(Text, default="")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("creator_id", "provider", name="uq_payout_accounts_creator_provider"),
        UniqueConstraint(
            "provider", "provider_account_id", name="uq_payout_accounts_provider_account"
        ),
    )

    creator: Mapped[Creator] = relationship(foreign_keys=[creator_id])

    @property
    def payable(self) -> bool:
        """Whether a payout run may send money to this account now."""
        return self.state == PayoutAccountState.PAYABLE


VERIFICATION_SOURCES = ("stripe", "admin")


class CreatorVerification(Base):
    """A creator's identity verified: by the payout provider (``stripe``) or an admin.

    Append-only history; a creator is verified while they have a row. Only
    verified creators are paid or claim credits (DESIGN section 1).
    """

    __tablename__ = "creator_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("source IN ('stripe', 'admin')", name="source"),)

    creator: Mapped[Creator] = relationship(foreign_keys=[creator_id])
    verified_by: Mapped[Creator | None] = relationship(foreign_keys=[verified_by_id])


class PayoutRun(Base):
    """One payout run started by an admin; its id is the transfer group at the provider.

    ``status``: ``running``, then ``finished`` (or ``awaiting`` manual marks),
    or ``failed`` with ``failure_reason`` when the run itself stopped half-way.
    """

    __tablename__ = "payout_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    failure_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    payouts: Mapped[list[Payout]] = relationship(back_populates="run", order_by="Payout.id")


class Payout(Base):
    """One transfer to one creator in one currency: a row (and a ledger hold) before the call."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # micros, a whole number of the currency's minor unit (10**(6 - decimals) micros)
    amount: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|paid|failed|reversed
    provider_transfer_id: Mapped[str | None] = mapped_column(String(120))
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    hold_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "run_id", "creator_id", "currency", name="uq_payouts_run_creator_currency"
        ),
        # Every currency in the table has at most 3 decimals, so a minor unit is
        # a multiple of 1000 micros (the service checks the currency's own unit).
        CheckConstraint("amount > 0 AND amount % 1000 = 0", name="whole_minor_units"),
        # At most one payout in flight per creator and currency: two concurrent
        # runs cannot both hold (and pay) the same balance.
        Index(
            "uq_payouts_one_pending",
            "creator_id",
            "currency",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    run: Mapped[PayoutRun] = relationship(back_populates="payouts")
    creator: Mapped[Creator] = relationship()


JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    """Long work (a payout run, a settlement period, an import) run outside the request.

    The row is written before the work is queued and carries everything a
    reader needs: status, progress, result or error. ``state`` is the job's own
    checkpoint, so a job resumed after a killed worker continues instead of
    starting again; ``heartbeat_at`` tells a live worker from a dead one.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    state: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_jobs_status_created_at", "status", "created_at"),
    )


class WebhookEvent(Base):
    """A provider event, stored before it is handled so replays are harmless and failures visible."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(
        String(16), default="received"
    )  # received|processed|failed|ignored
    error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
    )


# --- Open calls, following, notification preferences, search --------------------

CALL_STATUSES = ("open", "closed")


class OpenCall(Base):
    """A producer's call for contributions to a production: what is wanted, by when.

    Open until ``deadline`` or until the producer closes it (``status``).
    ``media_kinds`` lists the kinds of media an answer may be (audio, video,
    image, text).
    """

    __tablename__ = "open_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("creators.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    media_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_open_calls_status_deadline", "status", "deadline"),
    )

    production: Mapped[Work] = relationship()
    created_by: Mapped[Creator] = relationship()

    def is_open(self, now: datetime) -> bool:
        return self.status == "open" and now < self.deadline


ANSWER_STATUSES = ("answered", "picked")


class CallAnswer(Base):
    """A record uploaded in answer to an open call; ``picked`` once the producer takes it in."""

    __tablename__ = "call_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("open_calls.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="answered")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    picked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("call_id", "record_id", name="uq_call_answers_call_record"),
        CheckConstraint("status IN ('answered', 'picked')", name="status"),
    )

    call: Mapped[OpenCall] = relationship()
    record: Mapped[Work] = relationship()
    answered_by: Mapped[Creator] = relationship()


class Follow(Base):
    """A creator follows another creator or a work (exactly one of the two)."""

    __tablename__ = "follows"

    id: Mapped[int] = mapped_column(primary_key=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"), index=True)
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("follower_id", "creator_id", name="uq_follows_follower_creator"),
        UniqueConstraint("follower_id", "work_id", name="uq_follows_follower_work"),
        CheckConstraint("(creator_id IS NULL) <> (work_id IS NULL)", name="creator_or_work"),
    )


class NotificationPreference(Base):
    """A creator's choice for one kind of notification; no row means the kind is on."""

    __tablename__ = "notification_preferences"

    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    in_app: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)


class SearchEntry(Base):
    """One searchable thing (a work, a creator or an open call) as the search index sees it.

    Kept in step on every write by :mod:`hitrack.services.search`. The text
    index over ``title`` and ``body`` is dialect-specific and created by the
    migration only: an FTS5 table on SQLite, a ``tsvector`` column with a GIN
    index on PostgreSQL (:data:`SEARCH_INDEX_OBJECTS` names them).
    """

    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    #: How pages link to it: a work's or call's public id, a creator's handle.
    ref: Mapped[str] = mapped_column(String(64))
    media_kind: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    #: Who it is by, as shown in a result (also part of ``body``).
    byline: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    remixes: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("entity", "entity_id", name="uq_search_entries_entity"),
        Index("ix_search_entries_kind_created_at", "kind", "created_at"),
        Index("ix_search_entries_remixes", "remixes"),
    )


#: Schema objects of the text index that only the migration knows (they differ by dialect).
SEARCH_INDEX_OBJECTS = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_docsize",
        "search_fts_config",
        "search_entries.document",
        "ix_search_entries_document",
    }
)
