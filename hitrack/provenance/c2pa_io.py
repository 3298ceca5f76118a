"""Signing and reading C2PA manifests with ``c2pa-python``: the one module that calls it.

:class:`ProvenanceSigner` signs a media stream with a manifest definition
(:func:`hitrack.provenance.manifest.manifest_definition`), either with a
certificate chain and private key (the embedded default identity, or the
operator's files) or through a callback that returns the signature (a KMS
holding the key). Thumbnails are off: the manifest says who made the work,
not what it looks like.

:func:`read_credentials` reads a stream's manifest store and reports its
validation state; only ``Valid`` and ``Trusted`` manifests are ever used
(their ingredients proposed as sources); anything else is reported with the
reasons and trusted for nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import c2pa

from hitrack.provenance.manifest import IngredientClaim, hitrack_ingredients, hitrack_subject

__all__ = [
    "ProvenanceSigner",
    "CredentialsReport",
    "can_sign",
    "read_credentials",
    "SIGNABLE_TYPES",
    "MAX_INGREDIENTS_READ",
]

log = logging.getLogger(__name__)

MAX_INGREDIENTS_READ = 1000
"""A manifest may list any number of ingredients; more than this are counted, not read."""

_BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


def _supported() -> frozenset[str]:
    return frozenset(t for t in c2pa.Builder.get_supported_mime_types() if "/" in t)


SIGNABLE_TYPES = _supported()
"""MIME types the library can embed a manifest in (PNG, JPEG, WAV, MP4, ...)."""


def can_sign(media_type: str | None) -> bool:
    return bool(media_type) and media_type in SIGNABLE_TYPES


class ProvenanceSigner:
    """Signs media streams as the platform.

    Parameters
    ----------
    certificate_chain:
        PEM: the signing certificate first, then its issuers.
    private_key:
        PEM private key of the signing certificate; or None with ``sign``.
    sign:
        Instead of a key: a callback taking the bytes to sign and returning an
        ES256 signature (a KMS), for keys that never leave their vault.
    """

    def __init__(
        self,
        certificate_chain: bytes,
        private_key: bytes | None = None,
        *,
        sign: Callable[[bytes], bytes] | None = None,
        timestamp_url: str | None = None,
    ) -> None:
        if (private_key is None) == (sign is None):
            raise ValueError("give a private key or a signing callback, not both or neither")
        self._chain = certificate_chain
        self._key = private_key
        self._sign = sign
        self._tsa = timestamp_url

    def _signer(self) -> c2pa.Signer:
        if self._sign is not None:
            return c2pa.Signer.from_callback(
                self._sign, c2pa.C2paSigningAlg.ES256, self._chain.decode(), self._tsa
            )
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256,
            self._chain,
            self._key,
            self._tsa.encode() if self._tsa else None,
        )
        return c2pa.Signer.from_info(info)

    def sign(
        self, definition: Mapping[str, Any], media_type: str, source: BinaryIO, dest: BinaryIO
    ) -> None:
        """Write ``source`` with the manifest embedded to ``dest``; raises ``c2pa.C2paError``."""
        context = c2pa.Context(c2pa.Settings.from_dict(_BUILDER_SETTINGS))
        builder = c2pa.Builder(dict(definition), context=context)
        builder.sign(self._signer(), media_type, source, dest)


@dataclass(frozen=True)
class CredentialsReport:
    """What a file's Content Credentials say, and whether to believe them.

    ``state`` is ``none`` (no manifest), ``Invalid``, ``Valid`` (signed and
    untampered, issuer not trusted here) or ``Trusted``; ``usable`` only for the
    last two. ``problems`` are the validator's failure codes and explanations.
    """

    state: str
    title: str = ""
    issuer: str = ""
    subject_work_id: str | None = None
    """The hitrack work the file was signed for, when hitrack signed it."""
    ingredients: list[IngredientClaim] = field(default_factory=list)
    ingredient_count: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.state in ("Valid", "Trusted")

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "usable": self.usable,
            "title": self.title,
            "issuer": self.issuer,
            "work": self.subject_work_id,
            "ingredient_count": self.ingredient_count,
            "ingredients": [
                {
                    "title": c.title,
                    "relationship": c.relationship,
                    "work": c.work_id,
                    "sha256": c.sha256,
                    "share": c.share,
                }
                for c in self.ingredients
            ],
            "problems": self.problems,
        }


def _problems(results: Mapping[str, Any] | None) -> list[str]:
    found: list[str] = []
    active = (results or {}).get("activeManifest") or {}
    for failure in active.get("failure") or []:
        found.append(f"{failure.get('code')}: {failure.get('explanation')}")
    return found[:20]


def read_credentials(
    stream: BinaryIO, media_type: str, *, trust_anchors: bytes | None
) -> CredentialsReport:
    """Read and validate the manifest store of ``stream`` (``media_type`` as sniffed)."""
    if not can_sign(media_type):
        return CredentialsReport(state="none")
    settings: dict[str, Any] = {"verify": {"verify_trust": trust_anchors is not None}}
    if trust_anchors is not None:
        settings["trust"] = {"trust_anchors": trust_anchors.decode()}
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(settings))
        reader = c2pa.Reader(media_type, stream, context=context)
    except c2pa.C2paError as error:
        if "ManifestNotFound" in type(error).__name__ or "JUMBF" in str(error):
            return CredentialsReport(state="none")
        return CredentialsReport(state="Invalid", problems=[f"unreadable manifest: {error}"[:300]])
    state = reader.get_validation_state() or "Invalid"
    manifest = reader.get_active_manifest() or {}
    problems = _problems(reader.get_validation_results())
    if state == "Valid" and trust_anchors is not None:
        # With trust checking on, an untrusted issuer shows as a failure; the
        # manifest is still intact, which is all "Valid" claims.
        problems = [p for p in problems if not p.startswith("signingCredential.untrusted")]
    claims, count = hitrack_ingredients(manifest, limit=MAX_INGREDIENTS_READ)
    signature = manifest.get("signature_info") or {}
    return CredentialsReport(
        state=state,
        title=str(manifest.get("title") or "")[:200],
        issuer=str(signature.get("issuer") or "")[:200],
        subject_work_id=hitrack_subject(manifest),
        ingredients=claims,
        ingredient_count=count,
        problems=problems,
    )


def manifest_json(stream: BinaryIO, media_type: str) -> dict[str, Any]:
    """The whole manifest store as JSON (for tests and diagnostics)."""
    reader = c2pa.Reader(media_type, stream)
    result: dict[str, Any] = json.loads(reader.json())
    return result
