"""Signing and reading Content Credentials with the real C2PA library, on real files."""

from __future__ import annotations

import io
import logging

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from hitrack.provenance import Ingredient, Subject, can_sign, manifest_definition, read_credentials
from hitrack.provenance.c2pa_io import MAX_INGREDIENTS_READ, ProvenanceSigner
from hitrack.provenance.identity import generate_identity, local_identity
from hitrack.services.demo import solid_png, tone_wav


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (20, 120, 60)).save(out, "JPEG")
    return out.getvalue()


FILES = {
    "image/png": solid_png((200, 30, 30), size=8),
    "image/jpeg": jpeg(),
    "audio/wav": tone_wav(seconds=0.05),
}


@pytest.fixture(scope="module")
def identity():  # type: ignore[no-untyped-def]
    return generate_identity()


def subject(media_type: str, ingredients: int = 2) -> Subject:
    return Subject(
        work_id="p1",
        kind="production",
        title="Night Swim",
        media_type=media_type,
        url="https://hitrack.test/works/p1",
        owners={"dana": "1"},
        ingredients=[
            Ingredient(
                f"r{i}",
                f"Part {i}",
                "1/4",
                sha256=f"{i:064x}",
                media_type="audio/wav",
                credits=[{"name": f"Creator {i}", "handle": f"c{i}", "role": "owner"}],
            )
            for i in range(ingredients)
        ],
        retained="1/2",
    )


def sign(identity, media_type: str, data: bytes, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    signer = ProvenanceSigner(identity.certificate_chain, identity.private_key)
    signer.sign(
        manifest_definition(subject(media_type, **kwargs)), media_type, io.BytesIO(data), out
    )
    return out.getvalue()


@pytest.mark.parametrize("media_type", sorted(FILES))
def test_a_signed_file_reads_back_valid_and_trusted_with_its_ingredients(identity, media_type):
    signed = sign(identity, media_type, FILES[media_type])
    untrusting = read_credentials(io.BytesIO(signed), media_type, trust_anchors=None)
    assert untrusting.state == "Valid" and untrusting.usable
    trusting = read_credentials(io.BytesIO(signed), media_type, trust_anchors=identity.trust_anchor)
    assert trusting.state == "Trusted" and trusting.problems == []
    assert trusting.title == "Night Swim" and trusting.subject_work_id == "p1"
    assert [(c.work_id, c.relationship, c.share, c.sha256) for c in trusting.ingredients] == [
        ("r0", "componentOf", "1/4", f"{0:064x}"),
        ("r1", "componentOf", "1/4", f"{1:064x}"),
    ]


@pytest.mark.parametrize("media_type", sorted(FILES))
def test_a_flipped_byte_in_the_signed_file_fails_validation(identity, media_type):
    signed = bytearray(sign(identity, media_type, FILES[media_type]))
    # Flip a byte of the media itself (the file's last byte is content, not manifest, in
    # none of these formats: PNG ends with IEND's CRC, so flip the middle of the payload).
    original = FILES[media_type]
    position = signed.find(original[len(original) // 2 : len(original) // 2 + 4])
    assert position > 0
    signed[position] ^= 0xFF
    report = read_credentials(
        io.BytesIO(bytes(signed)), media_type, trust_anchors=identity.trust_anchor
    )
    assert report.state == "Invalid" and not report.usable
    assert report.problems


def test_a_file_signed_by_someone_else_is_valid_but_not_trusted(identity):
    stranger = generate_identity()
    signed = sign(stranger, "image/png", FILES["image/png"])
    report = read_credentials(io.BytesIO(signed), "image/png", trust_anchors=identity.trust_anchor)
    assert report.state == "Valid"  # intact, but not from an issuer trusted here


def test_a_kms_style_callback_signs_without_the_key_in_hitrack(identity):
    key = serialization.load_pem_private_key(identity.private_key, None)
    calls: list[int] = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]

    out = io.BytesIO()
    ProvenanceSigner(identity.certificate_chain, sign=kms_sign).sign(
        manifest_definition(subject("image/png")), "image/png", io.BytesIO(FILES["image/png"]), out
    )
    assert calls
    report = read_credentials(
        io.BytesIO(out.getvalue()), "image/png", trust_anchors=identity.trust_anchor
    )
    assert report.state == "Trusted"


def test_a_signer_needs_exactly_one_of_a_key_and_a_callback(identity):
    with pytest.raises(ValueError, match="a private key or a signing callback"):
        ProvenanceSigner(identity.certificate_chain)
    with pytest.raises(ValueError, match="a private key or a signing callback"):
        ProvenanceSigner(identity.certificate_chain, identity.private_key, sign=lambda b: b)


def test_a_file_without_credentials_and_a_type_c2pa_cannot_hold_read_as_none(identity):
    assert (
        read_credentials(io.BytesIO(FILES["image/png"]), "image/png", trust_anchors=None).state
        == "none"
    )
    assert not can_sign("text/plain") and not can_sign(None)
    report = read_credentials(io.BytesIO(b"hello"), "text/plain", trust_anchors=None)
    assert report.state == "none" and not report.usable


def test_garbage_where_a_manifest_should_be_is_reported_not_trusted(identity):
    signed = bytearray(sign(identity, "image/png", FILES["image/png"]))
    start = signed.find(b"jumb")
    assert start > 0
    signed[start + 40 : start + 400] = b"\x00" * 360
    report = read_credentials(
        io.BytesIO(bytes(signed)), "image/png", trust_anchors=identity.trust_anchor
    )
    assert report.state == "Invalid" and not report.usable and report.problems


def test_a_huge_manifest_is_counted_but_read_only_up_to_the_limit(identity):
    signed = sign(identity, "image/png", FILES["image/png"], ingredients=MAX_INGREDIENTS_READ + 200)
    report = read_credentials(io.BytesIO(signed), "image/png", trust_anchors=identity.trust_anchor)
    assert report.state == "Trusted"
    assert report.ingredient_count == MAX_INGREDIENTS_READ + 200
    assert len(report.ingredients) == MAX_INGREDIENTS_READ


def test_the_local_identity_is_generated_once_and_its_key_kept_private(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    first = local_identity(tmp_path / "c2pa")
    again = local_identity(tmp_path / "c2pa")
    assert again == first
    assert (tmp_path / "c2pa" / "signer.key").stat().st_mode & 0o777 == 0o600
    assert first.certificate_chain.count(b"BEGIN CERTIFICATE") == 2
