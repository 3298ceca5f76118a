"""Build the configured providers from settings.

The composition root shared by the web app and the CLI: each provider's
constructor takes plain values; this is the one place that reads them off
:class:`~hitrack.settings.Settings`.
"""

from __future__ import annotations

from hitrack.settings import Settings
from hitrack.storage import MediaStorage, make_storage

__all__ = ["media_storage"]


def media_storage(settings: Settings) -> MediaStorage:
    return make_storage(
        settings.storage,
        local_root=settings.media_root,
        s3_bucket=settings.s3_bucket,
        s3_prefix=settings.s3_prefix,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        s3_access_key=settings.s3_access_key_id,
        s3_secret_key=settings.s3_secret_access_key,
    )
