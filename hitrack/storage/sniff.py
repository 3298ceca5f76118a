"""Decide what an upload is from its first bytes, and whether hitrack accepts it.

The type of a stored file is taken from its content only, never from its name
or from the type the client declared: both are chosen by the uploader, and a
file served back under a type it does not really have is how stored scripts
end up running in other users' browsers. The sniffer is an allow-list. Anything
it does not recognise is refused, including formats that are harmless to
store but risky to serve (SVG and HTML carry script; XML can be SVG).

The checks follow the formats' published signatures: PNG, JPEG, GIF, RIFF
(WAVE, AVI, WEBP), FLAC, Ogg, ISO base media (``ftyp`` brands), EBML
(Matroska, WebM), MPEG audio (ID3 tag or frame header). Text must be UTF-8
with no NUL byte and must not open like markup, using the tag list browsers
use to sniff HTML.
"""

from __future__ import annotations

import codecs

__all__ = ["HEAD_SIZE", "TEXT_PLAIN", "sniff"]

#: How many leading bytes :func:`sniff` looks at. Callers pass at least this
#: much (or the whole file if it is shorter).
HEAD_SIZE = 8 * 1024

TEXT_PLAIN = "text/plain; charset=utf-8"

_RIFF_FORMS = {
    b"WAVE": ("audio/wav", "audio"),
    b"AVI ": ("video/x-msvideo", "video"),
    b"WEBP": ("image/webp", "image"),
}

# ISO base media file format: the major brand in the leading ftyp box says
# what the file is meant to be played as.
_FTYP_BRANDS = {
    b"M4A ": ("audio/mp4", "audio"),
    b"M4B ": ("audio/mp4", "audio"),
    b"isom": ("video/mp4", "video"),
    b"iso2": ("video/mp4", "video"),
    b"mp41": ("video/mp4", "video"),
    b"mp42": ("video/mp4", "video"),
    b"avc1": ("video/mp4", "video"),
    b"M4V ": ("video/mp4", "video"),
    b"qt  ": ("video/quicktime", "video"),
}

# Browsers treat a text response as HTML when, after whitespace, it opens with
# one of these followed by a space or '>' (WHATWG MIME Sniffing, "rules for
# identifying an unknown MIME type"). Other whitespace and '/' also end a tag
# here, to err on the side of refusing; SVG and XML are added because an SVG
# document may carry script too.
_MARKUP_OPENINGS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<svg",
)
_MARKUP_PREFIXES = (b"<!--", b"<?xml")
_TAG_ENDS = b" \t\n\x0c\r>/"
_UTF8_BOM = b"\xef\xbb\xbf"


def sniff(head: bytes) -> tuple[str, str] | None:
    """Return ``(content_type, media_kind)`` for an accepted file, else ``None``.

    Parameters
    ----------
    head
        The file's first :data:`HEAD_SIZE` bytes, or the whole file if shorter.

    Returns
    -------
    tuple of str, or None
        The content type to store and serve the file as, and its kind:
        ``"audio"``, ``"video"``, ``"image"`` or ``"text"``. ``None`` if the
        content is not an allowed type.

    Examples
    --------
    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(16))
    ('image/png', 'image')
    >>> sniff(b"Verse one, la la la\\n")
    ('text/plain; charset=utf-8', 'text')
    >>> sniff(b"<!DOCTYPE html><script>alert(1)</script>") is None
    True
    """
    head = head[:HEAD_SIZE]
    return _sniff_binary(head) or _sniff_text(head)


def _sniff_binary(head: bytes) -> tuple[str, str] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "image"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif", "image"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return _RIFF_FORMS.get(head[8:12])
    if head.startswith(b"fLaC"):
        return "audio/flac", "audio"
    if head.startswith(b"OggS"):
        return "audio/ogg", "audio"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _FTYP_BRANDS.get(head[8:12])
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML header names its DocType within its first few dozen bytes.
        if b"webm" in head[:64]:
            return "video/webm", "video"
        return "video/x-matroska", "video"
    if _is_id3_tag(head) or _is_mpeg_audio_frame(head):
        return "audio/mpeg", "audio"
    return None


def _is_id3_tag(head: bytes) -> bool:
    # "ID3", major version 2-4, a revision, flags, then a four-byte size
    # whose bytes each keep the top bit clear ("syncsafe").
    return (
        len(head) >= 10
        and head.startswith(b"ID3")
        and head[3] in (2, 3, 4)
        and head[4] != 0xFF
        and all(byte < 0x80 for byte in head[6:10])
    )


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # Eleven set bits of frame sync, then version, layer, bitrate and sample
    # rate fields, none of which may hold its reserved or "bad" value. Checking
    # the fields keeps random binary that happens to start with 0xFF out.
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and sample_rate != 0b11


def _sniff_text(head: bytes) -> tuple[str, str] | None:
    if not head or b"\x00" in head:
        return None
    # The head may end inside a multi-byte character; an incremental decoder
    # accepts that incomplete tail and still rejects invalid sequences.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if _opens_like_markup(head):
        return None
    return TEXT_PLAIN, "text"


def _opens_like_markup(head: bytes) -> bool:
    start = head.removeprefix(_UTF8_BOM).lstrip(b" \t\n\x0c\r").lower()
    if start.startswith(_MARKUP_PREFIXES):
        return True
    for opening in _MARKUP_OPENINGS:
        if start.startswith(opening):
            after = start[len(opening) : len(opening) + 1]
            # A file that is nothing but "<html" still counts.
            if not after or after in _TAG_ENDS:
                return True
    return False
