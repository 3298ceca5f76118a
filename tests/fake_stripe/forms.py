"""Decode Stripe's form encoding (``a[b][c]=v``, ``items[0][x]=v``) into nested values.

The ``stripe`` library sends every v1 request as
``application/x-www-form-urlencoded`` with bracketed keys; lists are sent
with explicit indexes. Values stay strings: each endpoint coerces what it
reads, the way the real API validates its parameters.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FormError", "parse_form"]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class FormError(ValueError):
    """A key that is not valid bracket syntax or mixes a value with sub-keys."""


def parse_form(body: str) -> dict[str, Any]:
    """Nested dicts and lists from a form-encoded body or query string.

    >>> parse_form("a[b]=1&items[0][x]=y&items[1][x]=z&tags[]=p&tags[]=q")
    {'a': {'b': '1'}, 'items': [{'x': 'y'}, {'x': 'z'}], 'tags': ['p', 'q']}
    """
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True, strict_parsing=False):
        match = _KEY.match(raw_key)
        if match is None:
            raise FormError(f"Invalid parameter name: {raw_key}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: dict[str, Any] = root
        for i, part in enumerate(parts[:-1]):
            if part == "":
                raise FormError(f"Invalid parameter name: {raw_key}")
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise FormError(f"Invalid parameter: {'.'.join(parts[: i + 1])} is not an object")
            node = child
        last = parts[-1]
        if last == "":
            # "tags[]=p&tags[]=q": append under the next free index.
            last = str(len(node))
        if isinstance(node.get(last), dict):
            raise FormError(f"Invalid parameter: {raw_key} is an object")
        node[last] = value
    converted: dict[str, Any] = _lists(root)
    return converted


def _lists(value: Any) -> Any:
    """Turn dicts keyed ``"0".."n"`` into lists, recursively."""
    if not isinstance(value, dict):
        return value
    converted = {key: _lists(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
