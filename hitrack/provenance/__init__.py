"""Provenance that travels with the file: C2PA manifests out, and read back in.

DESIGN section 11. A download of a work's media carries a C2PA manifest
signed by the platform; its ingredients are the works it cites. An upload
that carries a manifest has it validated, and its ingredients that name works
on the platform are proposed as the upload's sources.

- :mod:`~hitrack.provenance.manifest` — pure: what the manifest says
  (title, ingredients with their relationship, shares, credits, hashes, the
  split as a custom assertion). No C2PA library here.
- :mod:`~hitrack.provenance.identity` — the embedded default signing identity:
  an ES256 CA and leaf generated into the data folder on first use.
- :mod:`~hitrack.provenance.c2pa_io` — the one module that calls
  ``c2pa-python``: sign a stream, read and validate one.
"""

from hitrack.provenance.c2pa_io import (
    CredentialsReport,
    ProvenanceSigner,
    can_sign,
    read_credentials,
)
from hitrack.provenance.manifest import Ingredient, Subject, manifest_definition

__all__ = [
    "CredentialsReport",
    "Ingredient",
    "ProvenanceSigner",
    "Subject",
    "can_sign",
    "manifest_definition",
    "read_credentials",
]
