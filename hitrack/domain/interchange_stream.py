"""Read an interchange document (DESIGN section 5) as a stream, one work at a time.

A catalogue of a million works is a JSON document of several hundred
megabytes; parsing it whole holds every work as Python objects at once. This
reader walks the top-level object itself and decodes the elements of its
``works`` and ``events`` arrays one by one with the standard library's
decoder, so memory holds one element (and one read buffer) at a time. Every
element comes with the line it starts on, so an importer can name each bad
line. Numbers are read as :func:`~hitrack.domain.shares.loads_json` reads them
(non-integers as :class:`~decimal.Decimal`), so shares stay exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

from hitrack.domain.errors import InvalidInput

__all__ = ["Item", "STREAMED", "stream_document"]

STREAMED = ("works", "events")
"""Top-level arrays whose elements are yielded one by one."""

_DECODER = json.JSONDecoder(parse_float=Decimal)
_SPACE = re.compile(r"[ \t\n\r]*")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Item:
    """One top-level member (``key``, ``value``) or one element of a streamed array.

    For an element, ``key`` is the array's name, ``position`` its index and
    ``line`` (1-based) the line of the file it starts on.
    """

    key: str
    value: Any
    line: int
    position: int | None = None


class _Reader:
    """A sliding window over the text, counting the lines it has moved past."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.buf = ""
        self.pos = 0
        self.line = 1  # the line at the start of ``buf``
        self.eof = False
        self._counted = (0, 1)  # (position, its line): counting resumes from there

    def more(self) -> bool:
        if self.eof:
            return False
        # Read at least as much as is buffered, so an element larger than a
        # chunk is re-decoded a logarithmic number of times, not once per chunk.
        chunk = self.file.read(max(_CHUNK, len(self.buf) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.line = self.line_at(self.pos)
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        self._counted = (0, self.line)
        return True

    def line_at(self, pos: int) -> int:
        """The line of ``buf[pos]``; positions are asked in increasing order, so each
        newline is counted once."""
        at, line = self._counted
        if pos < at:
            return self.line + self.buf.count("\n", 0, pos)
        line += self.buf.count("\n", at, pos)
        self._counted = (pos, line)
        return line

    def skip_space(self) -> None:
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.more():
                return

    def peek(self) -> str:
        self.skip_space()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def expect(self, char: str, what: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise InvalidInput(
                f"line {self.line_at(self.pos)}: malformed JSON: expected {char!r} "
                f"{what}, found {shown}"
            )
        self.pos += 1

    def value(self) -> tuple[Any, int]:
        """Decode the next JSON value; returns it with the line it started on."""
        self.skip_space()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as error:
                if self.more():
                    continue
                raise InvalidInput(
                    f"line {self.line_at(error.pos)}: malformed JSON: {error.msg}"
                ) from None
            # A number running into the end of the buffer may go on in the next chunk.
            if end == len(self.buf) and not self.eof and self.more():
                continue
            line = self.line_at(self.pos)
            self.pos = end
            return value, line


def stream_document(file: TextIO) -> Iterator[Item]:
    """The members of the document's top-level object, streaming ``works`` and ``events``.

    Raises
    ------
    InvalidInput
        Malformed JSON (naming the line) or a top level that is not an object.

    Examples
    --------
    >>> import io
    >>> text = '{"currency": "USD",\\n "works": [\\n {"id": "r1"},\\n {"id": "r2"}]}'
    >>> [(i.key, i.line, i.position) for i in stream_document(io.StringIO(text))]
    [('currency', 1, None), ('works', 3, 0), ('works', 4, 1)]
    """
    reader = _Reader(file)
    reader.expect("{", "at the start of the document")
    if reader.peek() == "}":
        reader.pos += 1
        return
    while True:
        key, line = reader.value()
        if not isinstance(key, str):
            raise InvalidInput(f"line {line}: malformed JSON: an object key must be a string")
        reader.expect(":", f"after {key!r}")
        if key in STREAMED and reader.peek() == "[":
            reader.pos += 1
            position = 0
            if reader.peek() == "]":
                reader.pos += 1
            else:
                while True:
                    value, line = reader.value()
                    yield Item(key, value, line, position)
                    position += 1
                    if reader.peek() == ",":
                        reader.pos += 1
                        continue
                    reader.expect("]", f"or ',' after element {position - 1} of {key}")
                    break
        else:
            value, line = reader.value()
            yield Item(key, value, line)
        if reader.peek() == ",":
            reader.pos += 1
            continue
        reader.expect("}", "or ',' between members of the document")
        break
    if reader.peek():
        raise InvalidInput(
            f"line {reader.line_at(reader.pos)}: malformed JSON: text after the document"
        )
