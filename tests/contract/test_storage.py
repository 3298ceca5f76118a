"""The media storage contract, and upload intake, over every implementation.

Each test that takes ``under_test`` runs once against the local folder and
once against S3 (a moto server over real HTTP). Sample media files are built
by small factories from their published formats; large streams are generated
on demand so no test holds them in memory.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import re
import struct
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitrack.domain.errors import InvalidUpload, NotFound
from hitrack.storage import (
    LocalStorage,
    MediaStorage,
    StoredMedia,
    delete_quietly,
    make_storage,
    sanitize_filename,
    sniff,
    store_upload,
    validate_key,
)
from hitrack.storage.base import ReadableStream
from hitrack.storage.s3 import S3Storage, make_s3_client

MiB = 1024 * 1024
KEY_PATTERN = re.compile(r"media/[0-9a-f]{2}/[0-9a-f]{32}")


# --- streams and sample files -------------------------------------------------


class GeneratedStream:
    """``size`` deterministic bytes, made as they are read and hashed on the way out.

    Refuses an unbounded ``read()``, so a test fails if the code under test
    tries to pull the whole stream into memory. Optionally returns short
    reads (like a socket) or fails part-way (like a dropped connection).
    """

    _BLOCK = random.Random(20240601).randbytes(MiB + 7)  # odd length: chunks differ

    def __init__(
        self,
        size: int,
        *,
        header: bytes = b"",
        max_read: int | None = None,
        fail_at: int | None = None,
    ) -> None:
        self.size = size
        self.header = header
        self.max_read = max_read
        self.fail_at = fail_at
        self.position = 0
        self.digest = hashlib.sha256()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("unbounded read() of a large stream")
        size = min(size, self.size - self.position)
        if self.max_read is not None:
            size = min(size, self.max_read)
        if self.fail_at is not None and self.position + size > self.fail_at:
            raise ConnectionResetError("the client went away")
        out = bytearray()
        while len(out) < size:
            at = self.position + len(out)
            if at < len(self.header):
                out += self.header[at : at + size - len(out)]
            else:
                offset = (at - len(self.header)) % len(self._BLOCK)
                out += self._BLOCK[offset : offset + size - len(out)]
        self.position += size
        self.digest.update(out)
        return bytes(out)


def digest_of(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 and length of a stream, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with stream:
        while chunk := stream.read(MiB):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_all(storage: MediaStorage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def make_png() -> bytes:
    """A valid 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def wav_header(data_size: int) -> bytes:
    """RIFF/WAVE header for 16-bit mono PCM at 8 kHz followed by ``data_size`` bytes."""
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
    )


def make_wav() -> bytes:
    return wav_header(1600) + bytes(1600)


def mp3_frames(count: int = 3) -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames.
    return (b"\xff\xfb\x90\x64" + bytes(413)) * count


def make_mp3_with_id3() -> bytes:
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + mp3_frames()


def iso_media(brand: bytes) -> bytes:
    """An ISO base media file (MP4, M4A, MOV) with the given major brand."""
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"isom"
    mdat = struct.pack(">I", 8 + 64) + b"mdat" + bytes(64)
    return ftyp + mdat


def ebml(doc_type: bytes) -> bytes:
    """The EBML header of a Matroska or WebM file, then padding."""
    fields = (
        b"\x42\x86\x81\x01"  # EBMLVersion 1
        + b"\x42\xf7\x81\x01"  # EBMLReadVersion 1
        + b"\x42\xf2\x81\x04"  # EBMLMaxIDLength 4
        + b"\x42\xf3\x81\x08"  # EBMLMaxSizeLength 8
        + b"\x42\x82"
        + bytes([0x80 | len(doc_type)])
        + doc_type
        + b"\x42\x87\x81\x04"  # DocTypeVersion 4
        + b"\x42\x85\x81\x02"  # DocTypeReadVersion 2
    )
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(fields)]) + fields + bytes(64)


def riff(form: bytes, body: bytes = bytes(32)) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body


ACCEPTED_SAMPLES = {
    "png": (make_png(), "cover.png", "image/png", "image"),
    "jpeg": (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(64),
        "a.jpg",
        "image/jpeg",
        "image",
    ),
    "gif": (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(32) + b";",
        "a.gif",
        "image/gif",
        "image",
    ),
    "webp": (riff(b"WEBP", b"VP8 " + bytes(40)), "a.webp", "image/webp", "image"),
    "mp3 with id3": (make_mp3_with_id3(), "song.mp3", "audio/mpeg", "audio"),
    "mp3 frames only": (mp3_frames(), "song.mp3", "audio/mpeg", "audio"),
    "wav": (make_wav(), "take 1.wav", "audio/wav", "audio"),
    "flac": (b"fLaC\x00\x00\x00\x22" + bytes(34), "a.flac", "audio/flac", "audio"),
    "ogg": (b"OggS\x00\x02" + bytes(64), "a.ogg", "audio/ogg", "audio"),
    "m4a": (iso_media(b"M4A "), "a.m4a", "audio/mp4", "audio"),
    "mp4": (iso_media(b"mp42"), "clip.mp4", "video/mp4", "video"),
    "mov": (iso_media(b"qt  "), "clip.mov", "video/quicktime", "video"),
    "webm": (ebml(b"webm"), "clip.webm", "video/webm", "video"),
    "matroska": (ebml(b"matroska"), "clip.mkv", "video/x-matroska", "video"),
    "avi": (riff(b"AVI ", b"LIST" + bytes(40)), "clip.avi", "video/x-msvideo", "video"),
    "text": (
        "Verse 1 — la la la\nChorus: ♪\n".encode(),
        "lyrics.txt",
        "text/plain; charset=utf-8",
        "text",
    ),
}


# --- the storage contract -----------------------------------------------------


def test_put_then_open_returns_the_same_bytes(under_test: Any) -> None:
    storage = under_test.storage
    data = b"hello, stored world\n" * 100

    storage.put("media/ab/round-trip", io.BytesIO(data), size=len(data), content_type="text/plain")

    with storage.open("media/ab/round-trip") as stream:
        assert stream.read(5) == b"hello"
        assert stream.read() == data[5:]
    assert storage.exists("media/ab/round-trip")
    assert storage.size("media/ab/round-trip") == len(data)


def test_an_empty_object_round_trips(under_test: Any) -> None:
    under_test.storage.put("media/00/empty", io.BytesIO(b""), size=0, content_type="text/plain")

    assert read_all(under_test.storage, "media/00/empty") == b""
    assert under_test.storage.size("media/00/empty") == 0


@pytest.mark.slow
def test_a_large_stream_round_trips_in_chunks(under_test: Any) -> None:
    size = 64 * MiB + 123  # not a multiple of any part or chunk size
    source = GeneratedStream(size)

    under_test.storage.put("media/cd/large", source, size=size, content_type="video/mp4")

    assert source.position == size
    assert under_test.storage.size("media/cd/large") == size
    assert digest_of(under_test.storage.open("media/cd/large")) == (source.digest.hexdigest(), size)


def test_a_stream_with_short_reads_is_stored_whole(under_test: Any) -> None:
    # Sockets return whatever has arrived; a short read is not the end.
    size = 9 * MiB + 5  # above the multipart threshold
    source = GeneratedStream(size, max_read=65_000)

    under_test.storage.put("media/cd/trickle", source, size=size, content_type="audio/wav")

    assert digest_of(under_test.storage.open("media/cd/trickle")) == (
        source.digest.hexdigest(),
        size,
    )


def test_put_replaces_an_existing_object(under_test: Any) -> None:
    storage = under_test.storage
    storage.put("media/ef/song", io.BytesIO(b"first take"), size=10, content_type="text/plain")
    storage.put("media/ef/song", io.BytesIO(b"second"), size=6, content_type="text/plain")

    assert read_all(storage, "media/ef/song") == b"second"
    assert len(under_test.list_stored()) == 1


def test_exists_and_size_follow_put_and_delete(under_test: Any) -> None:
    storage = under_test.storage
    assert not storage.exists("media/12/thing")

    storage.put("media/12/thing", io.BytesIO(b"abc"), size=3, content_type="text/plain")
    assert storage.exists("media/12/thing")
    assert storage.size("media/12/thing") == 3

    storage.delete("media/12/thing")
    assert not storage.exists("media/12/thing")
    assert under_test.list_stored() == []


def test_delete_is_idempotent(under_test: Any) -> None:
    storage = under_test.storage
    storage.delete("media/34/never-stored")
    storage.put("media/34/once", io.BytesIO(b"x"), size=1, content_type="text/plain")

    storage.delete("media/34/once")
    storage.delete("media/34/once")

    assert under_test.list_stored() == []


def test_a_key_prefix_is_not_an_object(under_test: Any) -> None:
    storage = under_test.storage
    storage.put("media/56/inside", io.BytesIO(b"x"), size=1, content_type="text/plain")

    assert not storage.exists("media/56")
    with pytest.raises(NotFound):
        storage.open("media/56")
    storage.delete("media/56")
    assert storage.exists("media/56/inside")


def test_open_of_a_missing_key_raises_not_found(under_test: Any) -> None:
    with pytest.raises(NotFound, match="media/78/missing"):
        under_test.storage.open("media/78/missing")


def test_size_of_a_missing_key_raises_not_found(under_test: Any) -> None:
    with pytest.raises(NotFound, match="media/78/missing"):
        under_test.storage.size("media/78/missing")


def test_a_stream_that_fails_midway_leaves_nothing(under_test: Any) -> None:
    # Large enough that S3 is in the middle of a multipart upload when it fails.
    source = GeneratedStream(20 * MiB, fail_at=12 * MiB)

    with pytest.raises(ConnectionResetError):
        under_test.storage.put("media/9a/dropped", source, size=20 * MiB, content_type="video/mp4")

    assert under_test.list_stored() == []


@pytest.mark.parametrize(
    ("actual", "declared", "message"),
    [(100, 101, "ended after 100 bytes, expected 101"), (101, 100, "longer than")],
    ids=["shorter", "longer"],
)
def test_a_stream_whose_length_differs_from_its_size_is_refused(
    under_test: Any, actual: int, declared: int, message: str
) -> None:
    with pytest.raises(InvalidUpload, match=message):
        under_test.storage.put(
            "media/bc/wrong-size", io.BytesIO(bytes(actual)), size=declared, content_type="x/y"
        )

    assert under_test.list_stored() == []


def test_a_failed_replace_keeps_the_previous_object(under_test: Any) -> None:
    storage = under_test.storage
    storage.put("media/de/keep", io.BytesIO(b"original"), size=8, content_type="text/plain")

    with pytest.raises(InvalidUpload):
        storage.put("media/de/keep", io.BytesIO(b"short"), size=8, content_type="text/plain")

    assert read_all(storage, "media/de/keep") == b"original"


BAD_KEYS = ["", "../escape", "media/../../etc/passwd", "/etc/passwd", "Media/AB", "a//b",
            "a/", "a.b", "media/ab/c d", "media\\ab", "x" * 513]  # fmt: skip


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_outside_the_key_alphabet_are_refused(under_test: Any, key: str) -> None:
    storage = under_test.storage
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put(key, io.BytesIO(b"x"), size=1, content_type="text/plain")
    for operation in (storage.open, storage.delete, storage.exists, storage.size):
        with pytest.raises(ValueError, match="invalid storage key"):
            operation(key)
    assert under_test.list_stored() == []


def test_local_storage_writes_only_under_its_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    storage.put("media/ab/cd", io.BytesIO(b"x"), size=1, content_type="text/plain")

    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "root",
        "root/media",
        "root/media/ab",
        "root/media/ab/cd",
    ]


def test_s3_storage_keeps_objects_under_its_prefix(s3_client: Any, s3_bucket: str) -> None:
    storage = S3Storage(s3_client, s3_bucket, "/deploy/blue/")
    storage.put("media/ab/cd", io.BytesIO(b"x"), size=1, content_type="audio/mpeg")

    head = s3_client.head_object(Bucket=s3_bucket, Key="deploy/blue/media/ab/cd")
    assert head["ContentType"] == "audio/mpeg"
    assert not S3Storage(s3_client, s3_bucket).exists("media/ab/cd")


@given(st.text(alphabet="abc019_-/.", max_size=30))
def test_every_accepted_key_stays_inside_the_local_root(key: str) -> None:
    root = Path("/srv/hitrack/media-root")
    try:
        validate_key(key)
    except ValueError:
        return
    resolved = (root / key).resolve()
    assert resolved.is_relative_to(root) and resolved != root


# --- upload intake --------------------------------------------------------------


@pytest.mark.parametrize("sample", ACCEPTED_SAMPLES.values(), ids=ACCEPTED_SAMPLES.keys())
def test_allowed_media_is_stored_with_its_kind_and_digest(
    under_test: Any, sample: tuple[bytes, str, str, str]
) -> None:
    data, filename, content_type, kind = sample

    media = store_upload(under_test.storage, io.BytesIO(data), filename=filename, max_bytes=MiB)

    assert media == StoredMedia(
        key=media.key,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type=content_type,
        media_kind=kind,  # type: ignore[arg-type]
        original_filename=filename,
    )
    assert KEY_PATTERN.fullmatch(media.key)
    assert read_all(under_test.storage, media.key) == data


def test_each_upload_gets_its_own_key(under_test: Any) -> None:
    png = make_png()
    first = store_upload(under_test.storage, io.BytesIO(png), filename="a.png", max_bytes=MiB)
    second = store_upload(under_test.storage, io.BytesIO(png), filename="a.png", max_bytes=MiB)

    assert first.key != second.key
    assert first.sha256 == second.sha256


def test_too_large_an_upload_is_refused_without_reading_the_rest(under_test: Any) -> None:
    source = GeneratedStream(50 * MiB, header=wav_header(50 * MiB))

    with pytest.raises(InvalidUpload, match="larger than the limit of 1 MiB"):
        store_upload(under_test.storage, source, filename="long.wav", max_bytes=MiB)

    assert source.position == MiB + 1
    assert under_test.list_stored() == []


def test_an_upload_of_exactly_the_limit_is_accepted(under_test: Any) -> None:
    data = make_wav()

    media = store_upload(
        under_test.storage, io.BytesIO(data), filename="a.wav", max_bytes=len(data)
    )

    assert media.size == len(data)


SPOOFED = {
    "html named png": (b"<!DOCTYPE html><html><script>steal()</script></html>", "cover.png"),
    "indented html": (b"\xef\xbb\xbf\n   <HTML><body>hi</body></HTML>", "notes.txt"),
    "script named txt": (b"<script>alert(document.cookie)</script>", "lyrics.txt"),
    "exe named mp3": (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64),
        "song.mp3",
    ),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "logo.svg"),
    "xml": (b'<?xml version="1.0"?><svg/>', "logo.png"),
    "zip": (b"PK\x03\x04\x14\x00\x00\x00" + bytes(64), "album.mp3"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(16), "score.txt"),
    "latin-1 text": ("caf\xe9 cr\xe8me".encode("latin-1"), "menu.txt"),
    "riff of another kind": (riff(b"RMID"), "a.wav"),
    "unknown mp4 brand": (iso_media(b"heic"), "photo.mp4"),
}


@pytest.mark.parametrize("sample", SPOOFED.values(), ids=SPOOFED.keys())
def test_content_that_is_not_an_allowed_type_is_refused(
    under_test: Any, sample: tuple[bytes, str]
) -> None:
    data, filename = sample

    with pytest.raises(InvalidUpload, match="not an allowed type; allowed are audio"):
        store_upload(under_test.storage, io.BytesIO(data), filename=filename, max_bytes=MiB)

    assert under_test.list_stored() == []


def test_a_disguised_file_is_refused_before_it_is_read_whole(under_test: Any) -> None:
    source = GeneratedStream(40 * MiB, header=b"MZ\x90\x00")

    with pytest.raises(InvalidUpload, match="not an allowed type"):
        store_upload(under_test.storage, source, filename="song.mp3", max_bytes=100 * MiB)

    assert source.position <= MiB
    assert under_test.list_stored() == []


def test_text_that_stops_being_utf8_after_the_sniffed_head_is_refused(under_test: Any) -> None:
    data = b"la " * 10_000 + b"\xff\xfe binary tail"

    with pytest.raises(InvalidUpload, match="not valid UTF-8 throughout"):
        store_upload(under_test.storage, io.BytesIO(data), filename="a.txt", max_bytes=MiB)

    assert under_test.list_stored() == []


def test_an_empty_upload_is_refused(under_test: Any) -> None:
    with pytest.raises(InvalidUpload, match="the file is empty"):
        store_upload(under_test.storage, io.BytesIO(b""), filename="empty.mp3", max_bytes=MiB)

    assert under_test.list_stored() == []


def test_the_declared_type_is_not_trusted(under_test: Any) -> None:
    png = make_png()
    media = store_upload(
        under_test.storage, io.BytesIO(png), filename="x", max_bytes=MiB, declared_type="text/html"
    )
    assert (media.content_type, media.media_kind) == ("image/png", "image")

    with pytest.raises(InvalidUpload):
        store_upload(
            under_test.storage,
            io.BytesIO(b"<html><script>x()</script>"),
            filename="x.png",
            max_bytes=MiB,
            declared_type="image/png",
        )


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (iso_media(b"isom"), "audio/mp4", ("audio/mp4", "audio")),
        (iso_media(b"isom"), "video/mp4", ("video/mp4", "video")),
        (iso_media(b"isom"), "image/png", ("video/mp4", "video")),
        (ebml(b"webm"), "audio/webm; codecs=opus", ("audio/webm", "audio")),
        (b"OggS\x00\x02" + bytes(64), "video/ogg", ("video/ogg", "video")),
        (make_png(), "audio/mpeg", ("image/png", "image")),
    ],
    ids=["mp4 as audio", "mp4 as video", "mp4 as image", "webm as audio", "ogg as video", "png"],
)
def test_the_declared_type_only_picks_audio_or_video_for_containers_of_either(
    local_under_test: Any, data: bytes, declared: str, expected: tuple[str, str]
) -> None:
    media = store_upload(
        local_under_test.storage,
        io.BytesIO(data),
        filename="x",
        max_bytes=MiB,
        declared_type=declared,
    )

    assert (media.content_type, media.media_kind) == expected


def test_a_path_in_the_file_name_is_dropped_and_never_used_for_the_key(under_test: Any) -> None:
    media = store_upload(
        under_test.storage,
        io.BytesIO(b"root:x:0:0:root:/root:/bin/bash\n"),
        filename="../../etc/passwd",
        max_bytes=MiB,
    )

    assert media.original_filename == "passwd"
    assert KEY_PATTERN.fullmatch(media.key)
    assert len(under_test.list_stored()) == 1
    assert "passwd" not in under_test.list_stored()[0]


def test_a_path_in_the_file_name_writes_nothing_outside_the_local_root(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "media-root"
    storage = LocalStorage(root)

    store_upload(storage, io.BytesIO(b"text\n"), filename="../../../passwd", max_bytes=MiB)

    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(root)]
    assert outside == []
    assert not any(p.name == "passwd" for p in tmp_path.rglob("*"))


class FailsAfterWriting:
    """A storage whose put stores the object and then fails, like a lost response."""

    def __init__(self, inner: MediaStorage) -> None:
        self.inner = inner

    def put(self, key: str, stream: ReadableStream, *, size: int, content_type: str) -> None:
        self.inner.put(key, stream, size=size, content_type=content_type)
        raise TimeoutError("the store stopped answering after the write")

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        return self.inner.size(key)


def test_a_failure_after_the_write_leaves_nothing_behind(under_test: Any) -> None:
    storage = FailsAfterWriting(under_test.storage)

    with pytest.raises(TimeoutError):
        store_upload(storage, io.BytesIO(make_png()), filename="a.png", max_bytes=MiB)

    assert under_test.list_stored() == []


def test_a_client_that_goes_away_mid_upload_leaves_nothing_behind(under_test: Any) -> None:
    source = GeneratedStream(5 * MiB, header=wav_header(5 * MiB), fail_at=3 * MiB)

    with pytest.raises(ConnectionResetError):
        store_upload(under_test.storage, source, filename="a.wav", max_bytes=10 * MiB)

    assert under_test.list_stored() == []


def test_delete_quietly_undoes_an_upload_whose_next_step_failed(under_test: Any) -> None:
    media = store_upload(
        under_test.storage, io.BytesIO(make_mp3_with_id3()), filename="a.mp3", max_bytes=MiB
    )

    delete_quietly(under_test.storage, media.key)
    delete_quietly(under_test.storage, media.key)

    assert under_test.list_stored() == []


def test_delete_quietly_logs_instead_of_raising(
    local_under_test: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenDelete(FailsAfterWriting):
        def delete(self, key: str) -> None:
            raise PermissionError("read-only file system")

    with caplog.at_level(logging.WARNING, logger="hitrack.storage.upload"):
        delete_quietly(BrokenDelete(local_under_test.storage), "media/ab/cd")

    assert "media/ab/cd" in caplog.text


@pytest.mark.slow
def test_a_large_upload_is_stored_in_bounded_memory(tmp_path: Path) -> None:
    size = 256 * MiB
    source = GeneratedStream(size, header=wav_header(size))
    storage = LocalStorage(tmp_path / "media-root")

    tracemalloc.start()
    try:
        media = store_upload(storage, source, filename="long take.wav", max_bytes=size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 32 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
    assert (media.size, media.sha256, media.media_kind) == (
        size,
        source.digest.hexdigest(),
        "audio",
    )
    assert storage.size(media.key) == size


# --- sniffing and names, without storage ------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["<3 this song\n", "a <b>bold</b> line", "<abc> is not a tag we sniff", "plain", "é" * 5000],
)
def test_text_that_merely_contains_angle_brackets_is_accepted(text: str) -> None:
    assert sniff(text.encode()) == ("text/plain; charset=utf-8", "text")


def test_text_whose_head_ends_inside_a_character_is_still_text() -> None:
    head = ("a" + "é" * 4096).encode()[:8192]  # cut in the middle of a two-byte character

    assert sniff(head) == ("text/plain; charset=utf-8", "text")


@pytest.mark.parametrize(
    "head",
    [
        b"\xff\xff\xff\xff" + bytes(8),
        b"\xff\xf1\x50\x80" + bytes(8),
        b"ID3\x09" + bytes(8),
        b"\x00",
    ],
    ids=["all ones", "adts aac", "id3 of unknown version", "nul"],
)
def test_lookalike_headers_are_not_accepted(head: bytes) -> None:
    assert sniff(head) is None


@given(st.binary(max_size=64))
def test_sniff_accepts_or_refuses_any_bytes_without_failing(head: bytes) -> None:
    result = sniff(head)
    assert result is None or result[1] in {"audio", "video", "image", "text"}


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("C:\\Users\\me\\My Song.mp3", "My Song.mp3"),
        ("song\u202egpj.exe", "songgpj.exe"),
        ('a"b\r\nc.wav', "abc.wav"),
        ("..", "upload"),
        ("", "upload"),
        ("  .hidden.  ", "hidden"),
        ("song.mp3\u2003\u2003\u00a0   .exe", "song.mp3 .exe"),
        ("private\ue000use\U0010ffff.ogg", "privateuse.ogg"),
        ("x" * 300 + ".flac", "x" * 250 + ".flac"),
    ],
)
def test_file_names_are_reduced_to_a_safe_display_name(given_name: str, expected: str) -> None:
    assert sanitize_filename(given_name) == expected


@given(st.text(max_size=400))
def test_a_sanitised_file_name_is_always_a_plain_single_component(name: str) -> None:
    clean = sanitize_filename(name)

    assert 0 < len(clean) <= 255
    assert "/" not in clean and "\\" not in clean and '"' not in clean
    assert clean not in {".", ".."}
    assert all(char.isprintable() or char == " " for char in clean)


# --- building a storage from settings ----------------------------------------------


def storage_settings(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "local_root": Path("/unused"),
        "s3_bucket": None,
        "s3_prefix": "",
        "s3_endpoint_url": None,
        "s3_region": "us-east-1",
        "s3_access_key": None,
        "s3_secret_key": None,
    }
    return settings | overrides


def test_make_storage_builds_the_local_default(tmp_path: Path) -> None:
    storage = make_storage("local", **storage_settings(local_root=tmp_path))

    assert isinstance(storage, LocalStorage) and storage.root == tmp_path.resolve()


def test_make_storage_builds_a_working_s3_storage(moto_endpoint: str, s3_bucket: str) -> None:
    storage = make_storage(
        "s3",
        **storage_settings(
            s3_bucket=s3_bucket,
            s3_prefix="p",
            s3_endpoint_url=moto_endpoint,
            s3_access_key="a",
            s3_secret_key="b",
        ),
    )

    storage.put("media/ab/cd", io.BytesIO(b"x"), size=1, content_type="text/plain")
    assert isinstance(storage, S3Storage) and storage.exists("media/ab/cd")


@pytest.mark.parametrize(
    ("kind", "overrides", "message"),
    [
        ("ftp", {}, "unknown media storage 'ftp': expected 'local' or 's3'"),
        ("s3", {}, "needs a bucket name"),
        ("s3", {"s3_bucket": "b", "s3_access_key": "a"}, "both an S3 access key and a secret"),
    ],
)
def test_make_storage_refuses_incomplete_settings(
    kind: str, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_storage(kind, **storage_settings(**overrides))


def test_make_s3_client_points_at_the_given_endpoint() -> None:
    client = make_s3_client("http://127.0.0.1:9", "eu-west-1", "a", "b")

    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "eu-west-1"
