"""Pick and build the media storage named by a setting.

The app factory reads settings and calls :func:`make_storage` with plain
values; nothing here reads configuration or the environment itself.
"""

from __future__ import annotations

from pathlib import Path

from hitrack.storage.base import MediaStorage
from hitrack.storage.local import LocalStorage

__all__ = ["STORAGE_KINDS", "make_storage"]

STORAGE_KINDS = ("local", "s3")


def make_storage(
    kind: str,
    *,
    local_root: Path,
    s3_bucket: str | None,
    s3_prefix: str,
    s3_endpoint_url: str | None,
    s3_region: str,
    s3_access_key: str | None,
    s3_secret_key: str | None,
) -> MediaStorage:
    """Build the storage for ``kind``: ``"local"`` (files under ``local_root``) or ``"s3"``.

    Raises
    ------
    ValueError
        For an unknown kind, or ``"s3"`` without a bucket.

    Examples
    --------
    >>> import tempfile
    >>> make_storage("local", local_root=Path(tempfile.gettempdir()) / "media",
    ...              s3_bucket=None, s3_prefix="", s3_endpoint_url=None,
    ...              s3_region="us-east-1", s3_access_key=None, s3_secret_key=None)
    LocalStorage(...)
    """
    if kind == "local":
        return LocalStorage(local_root)
    if kind == "s3":
        if not s3_bucket:
            raise ValueError("media storage 's3' needs a bucket name")
        # Imported here so the embedded default never pays for loading boto3.
        from hitrack.storage.s3 import S3Storage, make_s3_client

        client = make_s3_client(s3_endpoint_url, s3_region, s3_access_key, s3_secret_key)
        return S3Storage(client, s3_bucket, s3_prefix)
    choices = " or ".join(repr(choice) for choice in STORAGE_KINDS)
    raise ValueError(f"unknown media storage {kind!r}: expected {choices}")
