"""Serving a work's media: streamed, typed from the stored sniffed type, never sniffed by the browser.

A download (``download=True``) carries the platform's signed C2PA manifest
naming the works it cites, where the media type allows one
(:mod:`hitrack.services.provenance`); viewing in the page streams the
original bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import Response

from hitrack.db.models import Work
from hitrack.domain.errors import NotFound
from hitrack.services import provenance
from hitrack.web.context import db, provenance_signer, settings, storage

CHUNK = 256 * 1024


def media_response(work: Work, *, download: bool) -> Response:
    if not work.media_key:
        raise NotFound(f"{work.public_id} has no media", ids=(work.public_id,))
    key, size = work.media_key, work.media_size
    if download:
        signed = provenance.signed_download(
            db(), storage(), provenance_signer(), work, base_url=settings().base_url
        )
        if signed is not None:
            key, size = signed.key, signed.size
    stream = storage().open(key)

    def chunks() -> Iterator[bytes]:
        try:
            while block := stream.read(CHUNK):
                yield block
        finally:
            stream.close()

    filename = work.media_filename or work.public_id
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "") or work.public_id
    disposition = "attachment" if download else "inline"
    # The stored type is complete (text carries its charset): sent as it is, since
    # ``mimetype=`` would append a second charset to a text type.
    response = Response(
        chunks(),
        content_type=work.media_type or "application/octet-stream",
        direct_passthrough=True,
    )
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    if size is not None:
        response.headers["Content-Length"] = str(size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    if not work.consent_ai_training:
        # W3C TDMRep: text-and-data mining rights are reserved for this file.
        response.headers["tdm-reservation"] = "1"
    return response
