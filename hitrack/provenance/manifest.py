"""What a work's C2PA manifest says, as plain data (no C2PA library, no I/O).

A work's ingredients are the works it cites, and the relationship follows the
citing work's kind (DESIGN section 11):

============== ================ ======================================
citing work    relationship     meaning
============== ================ ======================================
``production`` ``componentOf``  a contribution assembled into it
``record``     ``parentOf``     the work a remix was made from
``model``      ``inputTo``      a training work of the model
============== ================ ======================================

Each ingredient carries, under ``metadata.hitrack``, its hitrack id, share,
SHA-256 of its media and its credits; the split itself is the custom
assertion ``org.hitrack.split``. Reading a manifest back
(:func:`hitrack_ingredients`) accepts only what this module writes, so a
malformed or foreign ingredient is reported instead of guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RELATIONSHIPS",
    "SPLIT_LABEL",
    "CLAIM_GENERATOR",
    "Ingredient",
    "Subject",
    "IngredientClaim",
    "manifest_definition",
    "hitrack_ingredients",
    "hitrack_subject",
]

RELATIONSHIPS = {"production": "componentOf", "record": "parentOf", "model": "inputTo"}
SPLIT_LABEL = "org.hitrack.split"
CLAIM_GENERATOR = "hitrack"
# IPTC digital source type: a work assembled from other works.
_COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/composite"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_WORK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Ingredient:
    """One cited work: its id, title, share of the citing work, media hash and credits."""

    work_id: str
    title: str
    share: str
    sha256: str | None = None
    media_type: str | None = None
    credits: Sequence[Mapping[str, str]] = ()


@dataclass(frozen=True)
class Subject:
    """The work whose media is being signed."""

    work_id: str
    kind: str
    title: str
    media_type: str
    url: str
    owners: Mapping[str, str] = field(default_factory=dict)
    ingredients: Sequence[Ingredient] = ()
    retained: str = "1"


def manifest_definition(subject: Subject, *, version: str = "") -> dict[str, Any]:
    """The C2PA manifest definition (as ``c2pa.Builder`` takes it) for ``subject``.

    Examples
    --------
    >>> d = manifest_definition(Subject("p1", "production", "Night Swim", "image/png",
    ...     "https://hitrack.test/works/p1", ingredients=[Ingredient("r1", "Shoreline", "1/4")]))
    >>> [(i["title"], i["relationship"]) for i in d["ingredients"]]
    [('Shoreline', 'componentOf')]
    >>> d["assertions"][1]["data"]["shares"]
    {'r1': '1/4'}
    """
    relationship = RELATIONSHIPS.get(subject.kind, "parentOf")
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": version or "0"}],
        "title": subject.title,
        "format": subject.media_type,
        "ingredients": [
            {
                "title": ingredient.title,
                "relationship": relationship,
                "format": ingredient.media_type or "application/octet-stream",
                "metadata": {
                    "hitrack": {
                        **({"id": ingredient.work_id} if ingredient.work_id else {}),
                        "share": ingredient.share,
                        **({"sha256": ingredient.sha256} if ingredient.sha256 else {}),
                        "credits": [dict(c) for c in ingredient.credits],
                    }
                },
            }
            for ingredient in subject.ingredients
        ],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": _COMPOSITE}]},
            },
            {
                "label": SPLIT_LABEL,
                "data": {
                    "work": subject.work_id,
                    "kind": subject.kind,
                    "url": subject.url,
                    "owners": dict(subject.owners),
                    "retained": subject.retained,
                    "shares": {i.work_id: i.share for i in subject.ingredients if i.work_id},
                },
            },
        ],
    }


@dataclass(frozen=True)
class IngredientClaim:
    """What a read manifest says of one ingredient: a hitrack id and/or a media hash."""

    title: str
    relationship: str
    work_id: str | None
    sha256: str | None
    share: str | None


def hitrack_ingredients(
    manifest: Mapping[str, Any], *, limit: int
) -> tuple[list[IngredientClaim], int]:
    """The active manifest's ingredients (at most ``limit``), and how many there were in all.

    Ingredients hitrack did not write still count, by title and hash when they
    carry one of ours; anything malformed is skipped (its id or hash left out).

    Examples
    --------
    >>> claims, total = hitrack_ingredients({"ingredients": [{"title": "Shoreline",
    ...     "relationship": "componentOf", "metadata": {"hitrack": {"id": "r1", "share": "1/4"}}}]},
    ...     limit=10)
    >>> claims[0].work_id, claims[0].share, total
    ('r1', '1/4', 1)
    """
    raw = manifest.get("ingredients")
    items = raw if isinstance(raw, list) else []
    claims: list[IngredientClaim] = []
    for item in items[:limit]:
        if not isinstance(item, Mapping):
            continue
        meta = item.get("metadata")
        ours = meta.get("hitrack") if isinstance(meta, Mapping) else None
        ours = ours if isinstance(ours, Mapping) else {}
        work_id = ours.get("id")
        sha256 = ours.get("sha256")
        share = ours.get("share")
        claims.append(
            IngredientClaim(
                title=str(item.get("title") or "")[:200],
                relationship=str(item.get("relationship") or "")[:40],
                work_id=work_id if isinstance(work_id, str) and _WORK_ID.match(work_id) else None,
                sha256=sha256 if isinstance(sha256, str) and _SHA256.match(sha256) else None,
                share=share if isinstance(share, str) and len(share) <= 40 else None,
            )
        )
    return claims, len(items)


def hitrack_subject(manifest: Mapping[str, Any]) -> str | None:
    """The hitrack id of the work a manifest was signed for (its split assertion), if any.

    Examples
    --------
    >>> hitrack_subject({"assertions": [{"label": "org.hitrack.split", "data": {"work": "p1"}}]})
    'p1'
    >>> hitrack_subject({"assertions": []}) is None
    True
    """
    assertions = manifest.get("assertions")
    for assertion in assertions if isinstance(assertions, list) else []:
        if isinstance(assertion, Mapping) and assertion.get("label") == SPLIT_LABEL:
            data = assertion.get("data")
            work = data.get("work") if isinstance(data, Mapping) else None
            if isinstance(work, str) and _WORK_ID.match(work):
                return work
    return None
