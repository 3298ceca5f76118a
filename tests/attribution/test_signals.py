"""The signals on real files: the packaged embedding model, TF-IDF, perceptual hashes, Chromaprint."""

from __future__ import annotations

import io
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from benchmarks import attribution_corpus as corpus
from hitrack.attribution import VECTOR_TOTAL, Signals, attribution_vector, operator_scores
from hitrack.attribution.embedding import (
    MINILM_FILES,
    ModelIntegrityError,
    model_directory,
    verify_model_files,
)
from hitrack.attribution.image import PerceptualHasher, open_image
from hitrack.attribution.lexical import LexicalFeatures, lexical_features
from hitrack.domain.errors import InvalidInput


def _index(signals: Signals, kind: str, records: list[bytes]):  # type: ignore[no-untyped-def]
    parts = list(signals.parts(kind))
    rows = {f"r{i}": signals.signatures(kind, data, parts) for i, data in enumerate(records)}
    return signals.build(kind, rows)


# --- text ----------------------------------------------------------------------------


def test_the_packaged_model_embeds_a_paraphrase_closer_than_an_unrelated_text(signals, texts):
    assert signals.embedder is not None
    rng = random.Random(1)
    vectors = signals.embedder.embed([texts[0], corpus.paraphrase_text(rng, texts[0]), texts[1]])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_the_installed_model_files_have_the_pinned_digests(signals):
    verify_model_files(model_directory())


def test_a_model_file_with_another_digest_or_missing_is_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(ModelIntegrityError, match="model.safetensors has SHA-256"):
        verify_model_files(tmp_path, {"model.safetensors": MINILM_FILES["model.safetensors"]})
    with pytest.raises(ModelIntegrityError, match="vocab.txt is missing"):
        verify_model_files(tmp_path, {"vocab.txt": MINILM_FILES["vocab.txt"]})


def test_lexical_signatures_survive_storage_and_rank_a_heavy_edit_first(texts):
    features = lexical_features(texts[0])
    back = LexicalFeatures.from_bytes(features.to_bytes())
    assert np.array_equal(back.indices, features.indices)
    assert np.array_equal(back.values, features.values)
    lexical_only = Signals(
        embedder=None, hasher=PerceptualHasher(), fingerprinter=None, embedder_note="not here"
    )
    index = _index(lexical_only, "text", [t.encode() for t in texts])
    assert index.signal == "text-lexical"
    assert "lexical similarity only" in lexical_only.method("text")
    edit = corpus.heavy_text_edit(random.Random(2), texts[3])
    assert [m.key for m in index.matches(edit)][:1] == ["r3"]


def test_text_matches_a_copy_both_sources_of_a_mix_and_not_an_unrelated_text(signals, texts):
    index = _index(signals, "text", [t.encode() for t in texts])
    rng = random.Random(7)
    assert index.signal == "text"
    assert index.matches(corpus.heavy_text_edit(rng, texts[2]))[0].key == "r2"
    mixed = {m.key for m in index.matches(corpus.mix_texts(rng, texts[4], texts[5]))[:2]}
    assert mixed == {"r4", "r5"}
    assert index.matches(corpus.make_text(random.Random(99))) == []


# --- images --------------------------------------------------------------------------


def test_a_resized_jpeg_matches_its_png_and_a_collage_matches_both(signals, images):
    index = _index(signals, "image", images)
    rng = random.Random(3)
    pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    copy = corpus.heavy_image_edit(rng, pictures[1])
    assert copy[:3] == b"\xff\xd8\xff"  # a real JPEG
    assert index.matches(copy)[0].key == "r1"
    both = {m.key for m in index.matches(corpus.mix_images(rng, pictures[0], pictures[3]))}
    assert {"r0", "r3"} <= both
    unrelated = corpus.encode(corpus.make_image(random.Random(50), size=128), "JPEG", 80)
    assert index.matches(unrelated) == []


def test_an_image_that_cannot_be_decoded_is_refused():
    with pytest.raises(InvalidInput, match="could not be decoded"):
        open_image(b"\x89PNG\r\n\x1a\n not really")


# --- audio ---------------------------------------------------------------------------


def test_a_noisy_excerpt_matches_its_recording_and_a_medley_both(signals, melodies):
    index = _index(signals, "audio", melodies)
    rng = random.Random(4)
    sounds = [_samples(data) for data in melodies]
    excerpt = corpus.wav(corpus.add_noise(rng, corpus.excerpt(rng, sounds[2], 8.0), 12))
    assert index.matches(excerpt)[0].key == "r2"
    medley = corpus.wav(
        np.concatenate([corpus.excerpt(rng, sounds[0], 7.0), corpus.excerpt(rng, sounds[1], 7.0)])
    )
    assert {m.key for m in index.matches(medley)[:2]} == {"r0", "r1"}
    other = random.Random(77)
    unrelated = corpus.wav(corpus.render(other, corpus.make_melody(other, 14.0), 14.0))
    assert index.matches(unrelated) == []


def test_audio_that_cannot_be_decoded_or_is_too_short_is_refused(signals):
    assert signals.fingerprinter is not None
    with pytest.raises(InvalidInput):
        signals.fingerprinter.fingerprint(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(InvalidInput, match="too short"):
        signals.fingerprinter.fingerprint(corpus.wav(np.zeros(corpus.RATE // 2)))


def _samples(wav: bytes) -> np.ndarray:
    return np.frombuffer(wav[44:], dtype="<i2").astype(np.float64) / 32000


# --- the vector ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3),
        st.fractions(min_value=Fraction(1, 10**6), max_value=10**6),
        min_size=1,
        max_size=12,
    )
)
def test_the_vector_sums_to_a_million_and_each_part_is_within_one_of_exact(weights):
    vector = attribution_vector(weights)
    assert sum(vector.values()) == VECTOR_TOTAL
    total = sum(weights.values())
    for key, weight in weights.items():
        assert abs(vector[key] - VECTOR_TOTAL * weight / total) < 1


def test_operator_scores_clip_negatives_and_refuse_what_attributes_nothing():
    manifest = {"r1", "r2"}
    assert operator_scores({"r1": "0.5", "r2": -3}, manifest) == {
        "r1": Fraction(1, 2),
        "r2": Fraction(0),
    }
    for scores, message in [
        ({"r9": 1}, "outside the model's manifest: r9"),
        ({"r1": 0, "r2": "0"}, "none is above 0"),
        ({"r1": -1, "r2": -2}, "none is above 0"),
        ({"r1": float("nan")}, "finite numbers"),
        ({"r1": "NaN"}, "finite numbers"),
        ({"r1": True}, "finite numbers"),
        ({}, "non-empty object"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            operator_scores(scores, manifest)
