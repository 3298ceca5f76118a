"""Provenance use cases: sign what is downloaded, read what is uploaded (DESIGN section 11).

Downloads: :func:`signed_download` builds the work's manifest from the graph
(its citations with their shares, its sources' owners as credits, their media
hashes), signs a copy of the media once per distinct manifest and keeps it in
media storage under a key derived from both, so later downloads of the same
work with the same citations are served from the copy. A media type the C2PA
library cannot embed into (plain text, Ogg, WebM, ...) is served unsigned and
the reason logged.

Uploads: :func:`read_upload` validates a new file's Content Credentials and
:func:`propose_sources` matches the ingredients of a usable (``Valid`` or
``Trusted``) manifest to works on the platform — by hitrack id, or by the
SHA-256 of their media — that the uploader may cite. A manifest that does
not validate is reported with its problems, and nothing in it is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Citation, Creator, Work, WorkOwner
from hitrack.domain.shares import format_share
from hitrack.provenance import (
    CredentialsReport,
    Ingredient,
    ProvenanceSigner,
    Subject,
    can_sign,
    manifest_definition,
)
from hitrack.provenance.manifest import IngredientClaim
from hitrack.storage import MediaStorage

__all__ = [
    "SignedMedia",
    "CredentialsReader",
    "subject_for",
    "signed_download",
    "read_upload",
    "propose_sources",
    "PRIVATE_TITLE",
]

log = logging.getLogger(__name__)

PRIVATE_TITLE = "a private work"
_SPOOL_BYTES = 8 * 1024 * 1024

CredentialsReader = Callable[[BinaryIO, str], CredentialsReport]
"""Reads a stream of the given media type: :func:`hitrack.provenance.read_credentials` with
the platform's trust anchors bound."""


@dataclass(frozen=True)
class SignedMedia:
    """A signed copy of a work's media in storage."""

    key: str
    size: int


def subject_for(db: Session, work: Work, *, base_url: str) -> Subject:
    """What the manifest of ``work``'s media says: its citations, shares, credits and hashes."""
    citations = list(
        db.scalars(
            select(Citation)
            .where(Citation.work_id == work.id)
            .options(
                selectinload(Citation.source)
                .selectinload(Work.owners)
                .selectinload(WorkOwner.creator)
            )
            .order_by(Citation.id)
        )
    )
    ingredients = []
    for citation in citations:
        source = citation.source
        if source.visibility == "private":  # never let a private title out through a public file
            ingredients.append(Ingredient("", PRIVATE_TITLE, format_share(citation.share)))
            continue
        ingredients.append(
            Ingredient(
                work_id=source.public_id,
                title=source.title,
                share=format_share(citation.share),
                sha256=source.media_sha256,
                media_type=source.media_type,
                credits=[
                    {"name": o.creator.display_name, "handle": o.creator.handle, "role": "owner"}
                    for o in source.owners
                ],
            )
        )
    return Subject(
        work_id=work.public_id,
        kind=work.kind,
        title=work.title,
        media_type=work.media_type or "application/octet-stream",
        url=f"{base_url.rstrip('/')}/works/{work.public_id}",
        owners={o.creator.handle: format_share(o.fraction) for o in work.owners},
        ingredients=ingredients,
        retained=format_share(work.retained_share),
    )


def signed_download(
    db: Session,
    storage: MediaStorage,
    signer: ProvenanceSigner,
    work: Work,
    *,
    base_url: str,
    version: str = "",
) -> SignedMedia | None:
    """The signed copy of ``work``'s media (made on first request), or None to serve it unsigned."""
    if not work.media_key:
        return None
    if not can_sign(work.media_type):
        log.info("%s served unsigned: C2PA cannot embed into %s", work.public_id, work.media_type)
        return None
    definition = manifest_definition(subject_for(db, work, base_url=base_url), version=version)
    digest = hashlib.sha256(
        json.dumps([work.media_key, definition], sort_keys=True).encode()
    ).hexdigest()
    key = f"signed/{digest[:2]}/{digest}"
    if storage.exists(key):
        return SignedMedia(key, storage.size(key))
    with (
        tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as source,
        tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as signed,
    ):
        with storage.open(work.media_key) as original:  # S3 bodies cannot seek: copy first
            while block := original.read(1024 * 1024):
                source.write(block)
        source.seek(0)
        try:
            signer.sign(definition, work.media_type or "", source, signed)  # type: ignore[arg-type]
        except Exception as error:  # the library refuses some files of a supported type
            log.warning("%s served unsigned: signing failed: %s", work.public_id, error)
            return None
        size = signed.seek(0, 2)  # the library may leave the position anywhere
        signed.seek(0)
        storage.put(key, signed, size=size, content_type=work.media_type or "")
    return SignedMedia(key, size)


def read_upload(
    storage: MediaStorage, key: str, media_type: str, reader: CredentialsReader
) -> CredentialsReport:
    """Validate the Content Credentials of a stored upload (``none`` when it has none)."""
    if not can_sign(media_type):
        return CredentialsReport(state="none")
    with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as copy:
        with storage.open(key) as stored:
            while block := stored.read(1024 * 1024):
                copy.write(block)
        copy.seek(0)
        return reader(copy, media_type)  # type: ignore[arg-type]


def propose_sources(db: Session, actor: Creator, report: CredentialsReport) -> list[dict[str, Any]]:
    """Works on the platform that a usable manifest's ingredients name, for the actor to cite.

    Matched by hitrack id first, then by media SHA-256; only works the actor
    can see whose owners allow remixes; each proposed once, with the share the
    manifest gave it (when it gave one).
    """
    if not report.usable:
        return []
    # A file hitrack signed is first of all a copy of the work it was signed
    # for: that work is proposed first (share left to the uploader).
    claims = list(report.ingredients)
    if report.subject_work_id:
        claims.insert(
            0, IngredientClaim(report.title, "parentOf", report.subject_work_id, None, None)
        )
    ids = {c.work_id for c in claims if c.work_id}
    hashes = {c.sha256 for c in claims if c.sha256}
    conditions = [Work.public_id.in_(ids)] if ids else []
    conditions += [Work.media_sha256.in_(hashes)] if hashes else []
    found = list(db.scalars(select(Work).where(or_(*conditions)))) if conditions else []
    by_id = {w.public_id: w for w in found}
    by_hash: Mapping[str, Work] = {w.media_sha256: w for w in found if w.media_sha256}
    proposals: list[dict[str, Any]] = []
    seen: set[int] = set()
    for claim in claims:
        work, matched = None, ""
        if claim.work_id and claim.work_id in by_id:
            work, matched = by_id[claim.work_id], "hitrack id"
        elif claim.sha256 and claim.sha256 in by_hash:
            work, matched = by_hash[claim.sha256], "media hash"
        if work is None or work.id in seen or not _may_cite(actor, work):
            continue
        seen.add(work.id)
        proposals.append(
            {
                "work": work.public_id,
                "title": work.title,
                "share": claim.share,
                "matched_by": matched,
            }
        )
    return proposals


def _may_cite(actor: Creator, work: Work) -> bool:
    visible = work.visibility == "public" or work.is_owned_by(actor.id)
    return visible and work.consent_remix and work.kind != "model"
