"""Where media bytes live: a small protocol, a local folder and S3.

:class:`MediaStorage` is the protocol; :class:`LocalStorage` is the embedded
default and :class:`~hitrack.storage.s3.S3Storage` the production store,
chosen by :func:`make_storage`. User uploads enter only through
:func:`store_upload`, which checks the content and generates the key. The S3
backend lives in :mod:`hitrack.storage.s3` and is imported from there, so
importing this package does not load boto3.
"""

from hitrack.storage.base import MediaStorage, ReadableStream, validate_key
from hitrack.storage.factory import make_storage
from hitrack.storage.local import LocalStorage
from hitrack.storage.sniff import sniff
from hitrack.storage.upload import (
    MediaKind,
    StoredMedia,
    delete_quietly,
    new_media_key,
    sanitize_filename,
    store_upload,
)

__all__ = [
    "LocalStorage",
    "MediaKind",
    "MediaStorage",
    "ReadableStream",
    "StoredMedia",
    "delete_quietly",
    "make_storage",
    "new_media_key",
    "sanitize_filename",
    "sniff",
    "store_upload",
    "validate_key",
]
