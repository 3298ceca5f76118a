"""Media storage in S3 or any S3-compatible store (MinIO, Ceph, R2, ...).

:class:`S3Storage` is built from plain values: a boto3 client, a bucket and an
optional key prefix. It never reads application settings; the app factory
turns settings into those values (see :mod:`hitrack.storage.factory`), and
:func:`make_s3_client` builds the client from the same plain values.

Uploads go through boto3's managed transfer (``upload_fileobj``), which
switches to a multipart upload above 8 MiB and streams parts, so memory use
per upload is bounded by a few part buffers whatever the object's size.
Downloads return the HTTP response body wrapped as a buffered binary file.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from hitrack.domain.errors import InvalidUpload, NotFound
from hitrack.storage.base import CHUNK_SIZE, ReadableStream, validate_key

__all__ = ["S3Storage", "make_s3_client", "default_transfer_config"]

_PART_SIZE = 8 * 1024 * 1024
# Error codes S3 and compatible stores use for "no such object". HEAD responses
# carry no body, so botocore reports them by bare status code.
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def default_transfer_config() -> TransferConfig:
    """Transfer settings that keep an upload's memory bounded.

    A stream of unknown length cannot be seeked, so boto3 buffers each part in
    memory before sending it. Four parts of 8 MiB in memory and four in flight
    cap one upload at about 32 MiB, where the library default would allow 80.
    """
    config = TransferConfig(
        multipart_threshold=_PART_SIZE,
        multipart_chunksize=_PART_SIZE,
        max_concurrency=4,
    )
    # A documented s3transfer setting that boto3's constructor does not expose.
    config.max_in_memory_upload_chunks = 4
    return config


class S3Storage:
    """A :class:`~hitrack.storage.base.MediaStorage` on an S3 bucket.

    Parameters
    ----------
    client
        A boto3 S3 client, e.g. from :func:`make_s3_client`.
    bucket
        The bucket name; the bucket must already exist.
    prefix
        Prepended to every key (``"prod"`` stores ``media/ab/cd`` as
        ``prod/media/ab/cd``), so several deployments can share a bucket.
    transfer_config
        Multipart settings for uploads; :func:`default_transfer_config` if omitted.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        self.client = client
        self.bucket = bucket
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        self.transfer_config = transfer_config or default_transfer_config()

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put(self, key: str, stream: ReadableStream, *, size: int, content_type: str) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        # S3 publishes an object only when its (multipart) upload completes, and
        # the transfer manager aborts a failed multipart upload, so a failure
        # here leaves neither a partial object nor orphaned parts.
        self.client.upload_fileobj(
            _ExactReader(stream, size),
            self.bucket,
            self._name(key),
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer_config,
        )

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _is_missing(error):
                raise NotFound(f"no stored media under key {key!r}", ids=(key,)) from None
            raise
        return io.BufferedReader(_BodyReader(response["Body"]), buffer_size=64 * 1024)

    def delete(self, key: str) -> None:
        # S3 answers 204 for a missing key; some compatible stores answer
        # NoSuchKey instead, which means the same thing here.
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if not _is_missing(error):
                raise

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _is_missing(error):
                return False
            raise
        return True

    def size(self, key: str) -> int:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _is_missing(error):
                raise NotFound(f"no stored media under key {key!r}", ids=(key,)) from None
            raise
        return int(response["ContentLength"])


def make_s3_client(
    endpoint_url: str | None,
    region: str,
    access_key: str | None,
    secret_key: str | None,
) -> Any:
    """Build a boto3 S3 client from plain values.

    Parameters
    ----------
    endpoint_url
        ``None`` for AWS; the store's URL for an S3-compatible store
        (``http://minio:9000``).
    region
        The bucket's region (``"us-east-1"`` for most compatible stores).
    access_key, secret_key
        Both or neither. With neither, boto3's usual chain applies
        (environment, shared config, instance role).
    """
    if (access_key is None) != (secret_key is None):
        raise ValueError("give both an S3 access key and a secret key, or neither")
    options: dict[str, Any] = {
        "region_name": region,
        "signature_version": "s3v4",
        "retries": {"mode": "standard", "max_attempts": 5},
    }
    if endpoint_url:
        # Compatible stores rarely serve virtual-host bucket names
        # (bucket.localhost), and several reject the CRC checksums botocore
        # sends by default since 1.36; send checksums only where S3 needs them.
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    # A private session, so nothing leaks in from or out to boto3's default one.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(**options),
    )


def _is_missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in _MISSING_CODES


class _ExactReader:
    """Reads a stream that must hold exactly ``size`` bytes, for the uploader.

    The transfer manager treats a short read as the end of the stream, which
    would silently truncate an object read from a socket that returns partial
    reads; this reader fills each request unless the stream has really ended.
    It also refuses to pass on more or fewer bytes than declared, so a put
    stores exactly what its caller promised or fails.
    """

    def __init__(self, stream: ReadableStream, size: int) -> None:
        self._stream = stream
        self._remaining = size
        self._size = size

    def read(self, amount: int | None = -1) -> bytes:
        if amount is None or amount < 0:
            amount = self._remaining
        # Asking for one byte past the end is how an over-long stream shows up.
        wanted = min(amount, self._remaining + 1)
        parts: list[bytes] = []
        got = 0
        while got < wanted:
            chunk = self._stream.read(min(CHUNK_SIZE, wanted - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        if got > self._remaining:
            raise InvalidUpload(
                f"the upload is longer than its declared size of {self._size} bytes"
            )
        self._remaining -= got
        if got < amount and self._remaining:
            raise InvalidUpload(
                f"the upload ended after {self._size - self._remaining} bytes, "
                f"expected {self._size} bytes"
            )
        return b"".join(parts)


class _BodyReader(io.RawIOBase):
    """Adapts a botocore streaming body to a raw binary stream.

    Wrapped in :class:`io.BufferedReader`, it gives callers an ordinary binary
    file (``read``, ``readinto``, iteration, ``with``) that streams from the
    HTTP response instead of loading the object.
    """

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
