"""The OpenAPI document: its shape and its promises about requests.

The schemathesis test in ``tests/fuzz`` checks the document against a live
server; these check what can be read off the document itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitrack.storage import upload
from hitrack.storage.sniff import sniff
from hitrack.web.api import MEDIA_TYPES


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schemas_in(
    document: dict[str, Any], schema: Any, seen: set[int] | None = None
) -> Iterator[dict[str, Any]]:
    """``schema`` and every schema inside it, references followed once each."""
    seen = set() if seen is None else seen
    schema = resolve(document, schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return
    seen.add(id(schema))
    yield schema
    for key in ("properties",):
        for sub in schema.get(key, {}).values():
            yield from schemas_in(document, sub, seen)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield from schemas_in(document, schema[key], seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from schemas_in(document, sub, seen)


def request_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, method, op in operations(document):
        label = f"{method.upper()} {path}"
        for param in op.get("parameters", []):
            yield label, param["schema"]
        for media in op.get("requestBody", {}).get("content", {}).values():
            yield label, media["schema"]


def test_every_documented_path_is_routed(app: Flask, document: dict[str, Any]) -> None:
    routed = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    documented = {(path, method) for path, method, _ in operations(document)}
    assert documented <= routed, documented - routed


def test_every_operation_has_an_id_a_tag_and_the_shared_error_answers(
    document: dict[str, Any],
) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    for path, method, op in operations(document):
        assert op["tags"] and op["summary"], (method, path)
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert answer["$ref"].startswith("#/components/responses/"), (method, path, status)
            elif status == "204":  # No Content: nothing may be described as its body
                assert not answer["content"], (method, path, status)
            else:
                assert answer["content"], (method, path, status)


def test_every_reference_resolves_and_every_link_names_an_operation(
    document: dict[str, Any],
) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for reference in refs(document):
        assert resolve(document, {"$ref": reference}) is not None, reference
    ids = {op["operationId"]: op for _, _, op in operations(document)}
    links = [
        (f"{method.upper()} {path}", link)
        for path, method, op in operations(document)
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert len(links) >= 20
    for source, link in links:
        target = ids[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= names, (source, link)


def test_request_objects_are_closed_and_request_text_is_bounded_and_never_holds_nul(
    document: dict[str, Any],
) -> None:
    checked = 0
    for label, top in request_schemas(document):
        for schema in schemas_in(document, top):
            if schema.get("type") == "object" and "properties" in schema:
                assert schema.get("additionalProperties") is False, (label, schema)
            if schema.get("type") == "string" and schema.get("format") != "binary":
                checked += 1
                assert "maxLength" in schema or "format" in schema or "pattern" in schema, (
                    label,
                    schema,
                )
                assert "pattern" in schema, (label, schema)
                assert not re.search(schema["pattern"], "a\x00a"), (label, schema)
    assert checked > 30


def test_the_upload_types_named_are_the_types_the_content_may_have() -> None:
    heads = [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"GIF89a",
        b"fLaC",
        b"OggS",
        b"\x1a\x45\xdf\xa3webm",
        b"\x1a\x45\xdf\xa3matroska",
        b"ID3\x03\x00\x00\x00\x00\x00\x00",
        b"plain words",
        *(b"RIFF\x00\x00\x00\x00" + form for form in (b"WAVE", b"AVI ", b"WEBP")),
        *(
            b"\x00\x00\x00\x18ftyp" + brand
            for brand in (b"M4A ", b"isom", b"mp42", b"M4V ", b"qt  ")
        ),
    ]
    detected = {sniff(head + b" " * 16) for head in heads}
    assert None not in detected
    served = {content_type for content_type, _ in detected if content_type}
    served |= {
        alternative
        for readings in upload._AUDIO_OR_VIDEO.values()
        for alternative, _ in readings.values()
    }
    assert {t.split(";")[0] for t in served} == set(MEDIA_TYPES)
