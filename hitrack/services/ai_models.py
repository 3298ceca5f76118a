"""AI models: versions registered with a training manifest, under the records' consent.

Each registered version is its own :class:`~hitrack.db.models.Work` of kind
``model`` owned by its operator; versions of one model share the
``family_id`` of the first. The manifest is the version's citations: record
``r`` with weight ``w`` gets the share ``(1 - retained) * w / sum(w)``,
exactly. A record whose owners have not opted in to AI training cannot enter
a manifest; a version, once registered, never changes, so a later consent
revocation blocks new versions that include the record and is only *shown*
on the older ones.

Manifests name records by id or by the SHA-256 of their media (``sha256:``
followed by 64 hex digits, or the 64 hex digits alone); hashes that match no
visible record are reported back, not stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Citation, Creator, Work, WorkOwner
from hitrack.domain import graph as graph_rules
from hitrack.domain.errors import (
    Conflict,
    ConsentRequired,
    InvalidInput,
    InvalidShare,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.shares import format_share, parse_share
from hitrack.services import follows
from hitrack.services.graph import can_see, check_new_citations, lock_graph, visible_work
from hitrack.services.likeness import check_subject_consent
from hitrack.services.records import clean_text, new_public_id
from hitrack.services.unit_of_work import unit_of_work
from hitrack.storage import MediaStorage

__all__ = [
    "ManifestEntry",
    "Registration",
    "ManifestLine",
    "ModelView",
    "resolve_manifest",
    "manifest_shares",
    "register_model",
    "register_version",
    "VersionDraft",
    "next_version_draft",
    "get_model",
    "model_view",
    "models_of",
    "validate_attribution",
]

HASH_PATTERN = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")
"""A manifest key that is a SHA-256 digest of media (optionally prefixed ``sha256:``)."""


@dataclass(frozen=True)
class ManifestEntry:
    """A matched record and its exact weight; ``via`` is the hash it was matched by, if any."""

    record: Work
    weight: Fraction
    via: str | None = None


@dataclass(frozen=True)
class Registration:
    """The answer to a registration: the new version, what matched and which hashes did not."""

    model: Work
    matched: list[ManifestEntry]
    unmatched_hashes: list[str]


def _weight(raw: object, key: str) -> Fraction:
    weight = parse_share(raw, what=f"weight of {key}")  # type: ignore[arg-type]
    if weight <= 0:
        raise InvalidShare(
            f"weight of {key} must be positive, got {format_share(weight)}", ids=(key,)
        )
    return weight


def resolve_manifest(
    db: Session, actor: Creator, manifest: object
) -> tuple[list[ManifestEntry], list[str]]:
    """Match manifest keys (record ids or SHA-256 hashes) to records the actor can see.

    A hash matching several records matches the earliest upload (the original
    is the one most likely to have been trained on). Unknown record ids are an
    error; unmatched hashes are returned.
    """
    if not isinstance(manifest, Mapping) or not manifest:
        raise InvalidInput("manifest: expected a non-empty object of record id or sha256 -> weight")
    entries: list[ManifestEntry] = []
    unmatched: list[str] = []
    seen: dict[int, str] = {}
    for key, raw in manifest.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput("manifest: keys must be record ids or sha256 hashes")
        key = key.strip()
        weight = _weight(raw, key)
        match = HASH_PATTERN.fullmatch(key)
        if match:
            digest = match.group(1).lower()
            candidates = [
                w
                for w in db.scalars(
                    select(Work)
                    .where(Work.media_sha256 == digest, Work.kind == "record")
                    .order_by(Work.created_at, Work.id)
                )
                if can_see(actor, w)
            ]
            if not candidates:
                unmatched.append(digest)
                continue
            record, via = candidates[0], digest
        else:
            record, via = visible_work(db, actor, key), None
        if record.id in seen:
            raise InvalidInput(
                f"manifest: {record.public_id} is listed twice ({seen[record.id]} and {key})",
                ids=(record.public_id,),
            )
        seen[record.id] = key
        entries.append(ManifestEntry(record, weight, via))
    return entries, unmatched


def manifest_shares(weights: Mapping[str, Fraction], retained: Fraction) -> dict[str, Fraction]:
    """Each record's source share: ``(1 - retained) * w / sum(w)``, exact.

    Examples
    --------
    >>> manifest_shares({"r1": Fraction(3), "r2": Fraction(1)}, Fraction(1, 2))
    {'r1': Fraction(3, 8), 'r2': Fraction(1, 8)}
    """
    total = sum(weights.values(), Fraction(0))
    return {key: (1 - retained) * weight / total for key, weight in weights.items()}


def _check_consent(model_id: str, entries: list[ManifestEntry]) -> None:
    not_records = [e.record.public_id for e in entries if e.record.kind != "record"]
    if not_records:
        raise InvalidInput(
            f"a model trains on records only: {', '.join(not_records)} "
            f"{'is not a record' if len(not_records) == 1 else 'are not records'}",
            ids=tuple(not_records),
        )
    refused = [e.record for e in entries if not e.record.consent_ai_training]
    if refused:
        names = ", ".join(f"{r.public_id} ({r.title})" for r in refused)
        raise ConsentRequired(
            f"model {model_id} cannot train on records whose owners have not "
            f"consented to AI training: {names}",
            ids=tuple(r.public_id for r in refused),
        )


def _fraction(raw: object, what: str, default: str) -> Fraction:
    value = parse_share(default if raw is None or raw == "" else raw, what=what)  # type: ignore[arg-type]
    if not 0 <= value <= 1:
        raise InvalidShare(f"{what} {format_share(value)} is outside [0, 1]")
    return value


def _register(
    db: Session,
    actor: Creator,
    *,
    family: Work | None,
    name: object,
    description: object,
    version: object,
    retained: object,
    attribution_weight: object,
    manifest: object,
    now: datetime | None,
) -> Registration:
    at = now or datetime.now(UTC)
    name_s = clean_text(name, "name", max_length=200)
    description_s = clean_text(description, "description", max_length=5000, required=False)
    version_s = clean_text(version, "version", max_length=40)
    retained_f = _fraction(retained, "retained share", "0")
    weight_f = _fraction(attribution_weight, "attribution_weight", "0")
    entries, unmatched = resolve_manifest(db, actor, manifest)
    if not entries:
        raise InvalidInput(
            "manifest: no record matched; unmatched hashes: " + ", ".join(unmatched),
            ids=tuple(unmatched),
        )
    if retained_f == 1:
        raise InvalidShare("a retained share of 1 leaves nothing for the training manifest")
    public_id = new_public_id("model")
    _check_consent(public_id, entries)
    check_subject_consent(db, public_id, [e.record for e in entries])
    if family is not None:
        root_id = family.family_id or family.id
        taken = db.scalar(
            select(Work.id).where(
                (Work.id == root_id) | (Work.family_id == root_id), Work.version == version_s
            )
        )
        if taken is not None:
            raise Conflict(f"version {version_s} of this model is already registered")
    shares = manifest_shares({e.record.public_id: e.weight for e in entries}, retained_f)
    citing = graph_rules.Work(
        id=public_id,
        kind="model",
        owners={actor.handle: Fraction(1)},
        attribution_weight=weight_f,
        title=name_s,
    )
    resolved = check_new_citations(db, actor, citing, shares)
    model = Work(
        public_id=public_id,
        kind="model",
        status="active",
        title=name_s,
        description=description_s,
        created_by_id=actor.id,
        created_at=at,
        version=version_s,
        family_id=(family.family_id or family.id) if family is not None else None,
    )
    model.attribution_weight = weight_f
    model.owners.append(WorkOwner(creator_id=actor.id, fraction=Fraction(1)))
    db.add(model)
    db.flush()
    for record, share in resolved:
        db.add(
            Citation(
                work_id=model.id,
                source_id=record.id,
                share=share,
                credit_role="training data",
                created_by_id=actor.id,
                created_at=at,
            )
        )
    follows.citations_happened(db, model, [record.id for record, _ in resolved])
    return Registration(model, entries, unmatched)


def _index(db: Session, storage: MediaStorage | None, registration: Registration) -> Registration:
    """Compute the new version's attribution signatures, once its registration is committed."""
    if storage is not None:
        from hitrack.services.attribution import index_after_registration

        index_after_registration(db, storage, registration.model)
    return registration


def register_model(
    db: Session,
    actor: Creator,
    *,
    name: object,
    manifest: object,
    description: object = "",
    version: object = "1",
    retained: object = "0",
    attribution_weight: object = "0",
    now: datetime | None = None,
    storage: MediaStorage | None = None,
) -> Registration:
    """``actor`` registers the first version of a model, becoming its operator. All or nothing.

    With ``storage``, the manifest's attribution signatures are computed right after.
    """
    with unit_of_work(db):
        lock_graph(db)
        registration = _register(
            db,
            actor,
            family=None,
            name=name,
            description=description,
            version=version,
            retained=retained,
            attribution_weight=attribution_weight,
            manifest=manifest,
            now=now,
        )
    return _index(db, storage, registration)


def register_version(
    db: Session,
    actor: Creator,
    model_id: object,
    *,
    version: object,
    manifest: object,
    name: object = None,
    description: object = None,
    retained: object = "0",
    attribution_weight: object = None,
    now: datetime | None = None,
    storage: MediaStorage | None = None,
) -> Registration:
    """The operator registers a new version; earlier versions and their manifests stay as they were."""
    with unit_of_work(db):
        lock_graph(db)
        earlier = get_model(db, actor, model_id)
        if not earlier.is_owned_by(actor.id):
            raise PermissionDenied(
                f"only the operator of {earlier.public_id} may register versions",
                ids=(earlier.public_id,),
            )
        registration = _register(
            db,
            actor,
            family=earlier,
            name=earlier.title if name in (None, "") else name,
            description=earlier.description if description is None else description,
            version=version,
            retained=retained,
            attribution_weight=(
                format_share(earlier.attribution_weight)
                if attribution_weight in (None, "")
                else attribution_weight
            ),
            manifest=manifest,
            now=now,
        )
    return _index(db, storage, registration)


def get_model(db: Session, viewer: Creator | None, public_id: object) -> Work:
    work = visible_work(db, viewer, public_id)
    if work.kind != "model":
        raise NotFound(f"{work.public_id} is not a model", ids=(work.public_id,))
    return work


def validate_attribution(
    db: Session, model_work: Work, attribution: Mapping[str, object]
) -> dict[str, Fraction]:
    """Check a per-output attribution against the model version's manifest.

    Every key must be a record of the manifest, every score >= 0 and the sum
    > 0. The error names each offending id. Returns the exact scores.
    """
    if model_work.kind != "model":
        raise InvalidInput(
            f"attribution is only for models, and {model_work.public_id} is a {model_work.kind}",
            ids=(model_work.public_id,),
        )
    if not isinstance(attribution, Mapping) or not attribution:
        raise InvalidInput("attribution: expected a non-empty object of record id -> score")
    manifest = {c.source.public_id for c in model_work.sources}
    outside = sorted(str(k) for k in attribution if k not in manifest)
    if outside:
        raise InvalidInput(
            f"attribution names records outside the manifest of {model_work.public_id}: "
            + ", ".join(outside),
            ids=tuple(outside),
        )
    scores = {
        key: parse_share(raw, what=f"attribution score of {key}")  # type: ignore[arg-type]
        for key, raw in attribution.items()
    }
    negative = sorted(k for k, v in scores.items() if v < 0)
    if negative:
        raise InvalidInput(
            "attribution scores must not be negative: " + ", ".join(negative), ids=tuple(negative)
        )
    if sum(scores.values(), Fraction(0)) <= 0:
        raise InvalidInput(
            "attribution scores sum to 0: at least one must be positive",
            ids=(model_work.public_id,),
        )
    return scores


@dataclass(frozen=True)
class ManifestLine:
    """A record of a version's manifest and its consent then (always given) and now."""

    record: Work
    share: Fraction
    consent_now: bool
    revoked_at: datetime | None


@dataclass(frozen=True)
class ModelView:
    model: Work
    versions: list[Work]
    manifest: list[ManifestLine]

    @property
    def revoked(self) -> list[ManifestLine]:
        return [line for line in self.manifest if not line.consent_now]


def model_view(db: Session, viewer: Creator | None, public_id: object) -> ModelView:
    """A version with its manifest, the current consent of each record, and all versions of the model."""
    model = get_model(db, viewer, public_id)
    root = model.family_id or model.id
    versions = [
        v
        for v in db.scalars(
            select(Work)
            .where((Work.id == root) | (Work.family_id == root))
            .order_by(Work.created_at, Work.id)
        )
        if can_see(viewer, v)
    ]
    lines = [
        ManifestLine(
            c.source,
            c.share,
            c.source.consent_ai_training,
            None if c.source.consent_ai_training else c.source.consent_updated_at,
        )
        for c in db.scalars(
            select(Citation)
            .where(Citation.work_id == model.id)
            .options(selectinload(Citation.source))
            .order_by(Citation.id)
        )
    ]
    lines.sort(key=lambda line: (-line.share, line.record.public_id))
    return ModelView(model, versions, lines)


@dataclass(frozen=True)
class VersionDraft:
    """What the next version's form starts from: a free version name and a manifest
    that can be registered as it is (records whose owners revoked consent are left
    out, and listed, so the first submission is not refused for them)."""

    version: str
    manifest: dict[str, Fraction]
    left_out: list[Work]


def next_version_draft(db: Session, viewer: Creator | None, model_id: object) -> VersionDraft:
    """The starting point of a new version of ``model_id``: the next free version, the
    earlier manifest's weights minus the records that no longer consent."""
    earlier = get_model(db, viewer, model_id)
    root = earlier.family_id or earlier.id
    taken = set(
        db.scalars(select(Work.version).where((Work.id == root) | (Work.family_id == root)))
    )
    numbers = [int(v) for v in taken if v and v.isdigit()]
    candidate = max(numbers, default=len(taken)) + 1
    while str(candidate) in taken:
        candidate += 1
    kept: dict[str, Fraction] = {}
    left_out: list[Work] = []
    for citation in db.scalars(
        select(Citation)
        .where(Citation.work_id == earlier.id)
        .options(selectinload(Citation.source))
        .order_by(Citation.id)
    ):
        if citation.source.consent_ai_training:
            kept[citation.source.public_id] = citation.share
        else:
            left_out.append(citation.source)
    return VersionDraft(str(candidate), kept, left_out)


def models_of(db: Session, creator: Creator) -> list[Work]:
    """Model versions ``creator`` operates, newest first."""
    own = select(WorkOwner.work_id).where(WorkOwner.creator_id == creator.id)
    return list(
        db.scalars(
            select(Work)
            .where(Work.kind == "model", Work.id.in_(own))
            .order_by(Work.created_at.desc(), Work.id.desc())
        )
    )
