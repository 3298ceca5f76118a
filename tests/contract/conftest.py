"""Fixtures for the contract tests: every storage implementation, over real I/O.

S3 is exercised over real HTTP against a moto server bound to loopback, one
server per test session and a fresh bucket per test. The local backend gets a
fresh folder per test. Each backend comes with a way to list everything it
holds, so a test can assert that a failure left nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from hitrack.storage.base import MediaStorage
from hitrack.storage.local import LocalStorage

S3_REGION = "us-east-1"
S3_PREFIX = "tenant-a"


@dataclass(frozen=True)
class StorageUnderTest:
    """A backend plus a way to see everything it holds, bypassing the protocol."""

    name: str
    storage: MediaStorage
    #: Every stored object, temporary file or unfinished upload, as a name.
    list_stored: Callable[[], list[str]]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1, on a port the OS picked."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    """One client for the session: building one loads botocore's service model."""
    from hitrack.storage.s3 import make_s3_client

    return make_s3_client(moto_endpoint, S3_REGION, "testing-access-key", "testing-secret-key")


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[str]:
    """A new, empty bucket, emptied and removed afterwards to free the server's memory."""
    name = f"hitrack-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    yield name
    for upload in s3_client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3_client.abort_multipart_upload(
            Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    for key in list_bucket(s3_client, name):
        s3_client.delete_object(Bucket=name, Key=key)
    s3_client.delete_bucket(Bucket=name)


def list_bucket(client: Any, bucket: str) -> list[str]:
    """Every object key in ``bucket``, whatever its prefix."""
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def list_folder(root: Path) -> list[str]:
    """Every file under ``root`` (temporary files included), as relative paths."""
    if not root.exists():
        return []
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


@pytest.fixture
def local_under_test(tmp_path: Path) -> StorageUnderTest:
    root = tmp_path / "media-root"
    return StorageUnderTest("local", LocalStorage(root), lambda: list_folder(root))


@pytest.fixture
def s3_under_test(s3_client: Any, s3_bucket: str) -> StorageUnderTest:
    from hitrack.storage.s3 import S3Storage

    def list_stored() -> list[str]:
        unfinished = s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
        return list_bucket(s3_client, s3_bucket) + [
            f"(unfinished upload) {upload['Key']}" for upload in unfinished
        ]

    return StorageUnderTest("s3", S3Storage(s3_client, s3_bucket, S3_PREFIX), list_stored)


@pytest.fixture(params=["local", "s3"])
def under_test(request: pytest.FixtureRequest) -> StorageUnderTest:
    """Each storage implementation in turn; S3 starts moto only when first asked for."""
    fixture: StorageUnderTest = request.getfixturevalue(f"{request.param}_under_test")
    return fixture
