"""CSV that spreadsheet programs open safely: the one home of formula neutralisation.

Excel, LibreOffice and Google Sheets execute a cell that starts with ``=``,
``+``, ``-`` or ``@`` (and some read a leading tab or carriage return the
same way), so a work titled ``=HYPERLINK("http://evil", "click")`` would run
when an admin or a creator opens a statement or a payout batch. Every CSV
hitrack writes goes through :func:`csv_text`, which writes such a cell with a
leading apostrophe: spreadsheets show it as text, and a reader of the raw file
still sees the value. A plain number (``-12.34``) is not a formula and is
written as it is, so amounts stay numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["FORMULA_PREFIXES", "csv_lines", "csv_text", "neutralise"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def neutralise(cell: object) -> str:
    """``cell`` as CSV text that no spreadsheet evaluates.

    Examples
    --------
    >>> neutralise("=1+1"), neutralise("@SUM(A1)"), neutralise("-0.000005"), neutralise(-3)
    ("'=1+1", "'@SUM(A1)", '-0.000005', '-3')
    >>> neutralise("Night Swim")
    'Night Swim'
    """
    text = cell if isinstance(cell, str) else str(cell)
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (``\\n`` line ends) with every cell neutralised.

    Examples
    --------
    >>> print(csv_text(["title", "amount"], [["=cmd|' /C calc'!A0", "-1.50"]]), end="")
    title,amount
    '=cmd|' /C calc'!A0,-1.50
    """
    return "".join(csv_lines(header, rows))


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """:func:`csv_text` one line at a time, for downloads streamed as they are read.

    Examples
    --------
    >>> list(csv_lines(["title"], [["=1+1"], ["Night Swim"]]))
    ['title\\n', "'=1+1\\n", 'Night Swim\\n']
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in itertools.chain([header], rows):
        writer.writerow([neutralise(cell) for cell in row])
        yield _take(out)


def _take(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text
