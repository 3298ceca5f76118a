"""The rules every engine shares: attribution checks, fee and recoup splits."""

from fractions import Fraction as F

import pytest

from hitrack.domain.errors import InvalidEvent, InvalidInput, InvalidShare
from hitrack.domain.settlement import check_attribution, split_recouped

MANIFEST = ["r1", "r2"]


def check(attribution, **extra):
    return check_attribution(attribution, model="m1", kind="model", manifest=MANIFEST, **extra)


def test_attribution_scores_are_read_exactly_from_text_and_numbers():
    assert check({"r1": "3", "r2": 0}) == {"r1": F(3), "r2": F(0)}
    assert check({"r1": "1/3"}) == {"r1": F(1, 3)}


def test_attribution_outside_the_manifest_names_every_offending_id():
    with pytest.raises(InvalidInput, match="names r9, zz, which are not in the manifest") as error:
        check({"r1": 1, "zz": 1, "r9": 2})
    assert set(error.value.ids) == {"r9", "zz"}
    assert not isinstance(error.value, InvalidEvent)


@pytest.mark.parametrize(
    ("attribution", "error", "match"),
    [
        ({"r1": -1, "r2": "-2"}, InvalidInput, "scores of r1, r2 are negative"),
        ({"r1": 0, "r2": "0.0"}, InvalidInput, "sums to 0"),
        ({}, InvalidInput, "non-empty object"),
        (["r1"], InvalidInput, "non-empty object"),
        ({"r1": 0.5}, InvalidShare, "not an exact number"),
        ({"r1": "many"}, InvalidShare, "attribution score of r1"),
    ],
)
def test_bad_attributions_are_refused_with_a_clear_message(attribution, error, match):
    with pytest.raises(error, match=match):
        check(attribution)


def test_attribution_of_an_event_is_an_event_error_naming_the_event():
    with pytest.raises(InvalidEvent, match="^event e7: attribution score of r1 is negative$") as e:
        check({"r1": -1}, event="e7")
    assert e.value.ids == ("e7", "r1")
    with pytest.raises(InvalidEvent, match="event e7: attribution is only for models, and p1 is"):
        check_attribution({"r1": 1}, model="p1", kind="production", manifest=[], event="e7")


def test_recouped_micros_split_like_allocate_and_drop_zeros():
    assert split_recouped({"a": F(1, 3), "b": F(1, 3), "c": F(1, 3)}, 1) == {"a": 1}
    assert split_recouped({"solo": F(1)}, 7) == {"solo": 7}
    assert split_recouped({"a": F(1, 2), "b": F(1, 2)}, 0) == {}
