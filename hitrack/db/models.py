"""SQLAlchemy 2 typed models: creators, works, owners, citations, tokens.

Shares and fractions are stored exactly as a numerator and a denominator
(``*_num``/``*_den``), never as floats; the ``share`` properties give them
back as :class:`fractions.Fraction`. The schema itself is created only by the
Alembic migrations in ``migrations/``; a test checks the two agree.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hitrack.db.base import Base, utcnow
from hitrack.db.types import UTCDateTime
from hitrack.domain.errors import InvalidShare

__all__ = ["Creator", "ApiToken", "Work", "WorkOwner", "Citation", "WORK_KINDS", "ROLES"]

WORK_KINDS = ("record", "production", "model")
ROLES = ("creator", "admin")
_MAX_DB_INT = 2**63 - 1


def fraction_columns(value: Fraction) -> tuple[int, int]:
    """Split a fraction for storage; refuse what a BIGINT cannot hold exactly."""
    value = Fraction(value)
    if abs(value.numerator) > _MAX_DB_INT or value.denominator > _MAX_DB_INT:
        raise InvalidShare(f"{value} has too many digits to store exactly")
    return value.numerator, value.denominator


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

    __table_args__ = (CheckConstraint("role IN ('creator', 'admin')", name="role"),)

    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<Creator {self.handle}>"


class ApiToken(Base):
    """A bearer token for scripts. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("creators.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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
    attribution_weight_num: Mapped[int] = mapped_column(BigInteger, default=0)
    attribution_weight_den: Mapped[int] = mapped_column(BigInteger, default=1)

    __table_args__ = (
        CheckConstraint("kind IN ('record', 'production', 'model')", name="kind"),
        CheckConstraint("visibility IN ('public', 'private')", name="visibility"),
        CheckConstraint(
            "attribution_weight_den > 0 AND attribution_weight_num >= 0 "
            "AND attribution_weight_num <= attribution_weight_den",
            name="attribution_weight",
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
        back_populates="source", foreign_keys="Citation.source_id", order_by="Citation.id",
        viewonly=True,
    )
    created_by: Mapped[Creator | None] = relationship()

    @property
    def attribution_weight(self) -> Fraction:
        return Fraction(self.attribution_weight_num, self.attribution_weight_den)

    @attribution_weight.setter
    def attribution_weight(self, value: Fraction) -> None:
        self.attribution_weight_num, self.attribution_weight_den = fraction_columns(value)

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

    __table_args__ = (
        CheckConstraint(
            "fraction_den > 0 AND fraction_num > 0 AND fraction_num <= fraction_den", name="fraction"
        ),
    )

    work: Mapped[Work] = relationship(back_populates="owners")
    creator: Mapped[Creator] = relationship()

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.fraction_num, self.fraction_den)

    @fraction.setter
    def fraction(self, value: Fraction) -> None:
        self.fraction_num, self.fraction_den = fraction_columns(value)


class Citation(Base):
    """An edge ``work -> source``: the fraction of the work's value that belongs to the source."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    share_num: Mapped[int] = mapped_column(BigInteger)
    share_den: Mapped[int] = mapped_column(BigInteger)
    credit_role: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("creators.id"))

    __table_args__ = (
        UniqueConstraint("work_id", "source_id", name="uq_citations_work_id_source_id"),
        CheckConstraint("work_id <> source_id", name="not_self"),
        CheckConstraint("share_den > 0 AND share_num > 0 AND share_num <= share_den", name="share"),
    )

    work: Mapped[Work] = relationship(back_populates="sources", foreign_keys=[work_id])
    source: Mapped[Work] = relationship(back_populates="cited_by", foreign_keys=[source_id])

    @property
    def share(self) -> Fraction:
        return Fraction(self.share_num, self.share_den)

    @share.setter
    def share(self, value: Fraction) -> None:
        self.share_num, self.share_den = fraction_columns(value)
