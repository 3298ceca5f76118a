"""Serving a record's media: streamed, typed from the stored sniffed type, never sniffed by the browser."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import Response

from hitrack.db.models import Work
from hitrack.domain.errors import NotFound
from hitrack.web.context import storage

CHUNK = 256 * 1024


def media_response(work: Work, *, download: bool) -> Response:
    if not work.media_key:
        raise NotFound(f"{work.public_id} has no media", ids=(work.public_id,))
    stream = storage().open(work.media_key)

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
    if work.media_size is not None:
        response.headers["Content-Length"] = str(work.media_size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    if not work.consent_ai_training:
        # W3C TDMRep: text-and-data mining rights are reserved for this file.
        response.headers["tdm-reservation"] = "1"
    return response
