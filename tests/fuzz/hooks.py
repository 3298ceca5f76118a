"""What schemathesis needs to know beyond JSON Schema (loaded through ``SCHEMATHESIS_HOOKS``).

- Media: an upload's type is read from its content, and the document names
  the accepted types (in the ``file`` part's description and ``encoding``);
  here an upload is a file of one of those types (its signature, then any
  bytes), or UTF-8 text without NUL that does not open like markup.
- Statement periods: ``to`` is not before ``from`` and a period covers at most
  ``MAX_PERIOD_DAYS`` (the operation's description says so; JSON Schema cannot
  relate two parameters). Valid requests are made to keep that rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import strategies as st

from hitrack.services.statements import MAX_PERIOD_DAYS

_TAIL = st.binary(max_size=64)


def _signed(signature: bytes) -> st.SearchStrategy[bytes]:
    return _TAIL.map(lambda tail: signature + tail)


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00<"),
    min_size=1,
    max_size=200,
).map(str.encode)
_WAV = st.binary(min_size=4, max_size=4).flatmap(lambda size: _signed(b"RIFF" + size + b"WAVE"))

# ``format: binary`` is only ever an upload here. (The document also names the
# types in the part's ``encoding``; per-media-type strategies are not used, as
# the coverage phase then sends every other required form field empty.)
schemathesis.openapi.format(
    "binary",
    st.one_of(
        _TEXT,
        _signed(b"\x89PNG\r\n\x1a\n"),
        _signed(b"GIF89a"),
        _signed(b"\xff\xd8\xff"),
        _WAV,
        _signed(b"fLaC"),
    ),
)


def _period(query: dict[str, Any]) -> dict[str, Any]:
    """Order ``from`` and ``to`` and shorten the span to the longest period allowed."""
    today = datetime.now(UTC).date()
    start = date.fromisoformat(query["from"]) if "from" in query else today.replace(day=1)
    end = date.fromisoformat(query["to"]) if "to" in query else today
    start, end = min(start, end), max(start, end)
    end = min(end, start + timedelta(days=MAX_PERIOD_DAYS))
    return {**query, "from": start.isoformat(), "to": end.isoformat()}


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    if (
        context.operation is not None
        and context.operation.path == "/api/v1/me/statement"
        and case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(case.query, dict)
        and ("from" in case.query or "to" in case.query)
    ):
        case.query = _period(case.query)
    return case
