import numpy as np
import pytest

from service.core.validation import image_batch, number_batch, parse_json, parse_version
from service.errors import BadRequest, InvalidInput

MLP = (-1, 784)
CNN = (-1, 28, 28, 1)


def test_parse_json_accepts_objects_and_refuses_malformed_with_400():
    assert parse_json(b'{"inputs": [1]}') == {"inputs": [1]}
    for body in (b"", b"{", b"{'a': 1}", b"[1,]"):
        with pytest.raises(BadRequest):
            parse_json(body)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_with_422(constant):
    with pytest.raises(InvalidInput, match=constant):
        parse_json(f'{{"inputs": [[{constant}]]}}'.encode())


def test_overflowing_number_is_refused_with_422():
    with pytest.raises(InvalidInput, match="finite and within the float range"):
        parse_json(b'{"inputs": [1e999]}')


@pytest.mark.parametrize("instance_shape", [(784,), (28, 28)])
def test_mlp_accepts_flat_and_square_instances(instance_shape):
    batch = image_batch(np.zeros((3, *instance_shape)).tolist(), MLP)
    assert batch.shape == (3, 784)
    assert batch.dtype == np.float32


@pytest.mark.parametrize("instance_shape", [(784,), (28, 28), (28, 28, 1)])
def test_cnn_accepts_flat_square_and_channel_instances(instance_shape):
    batch = image_batch(np.full((2, *instance_shape), 0.5).tolist(), CNN)
    assert batch.shape == (2, 28, 28, 1)
    assert float(batch.max()) == 0.5


def test_wrong_instance_shape_names_expected_and_received():
    with pytest.raises(InvalidInput, match=r"\[784\] or \[28, 28\]; got \[783\]"):
        image_batch([[0.0] * 783], MLP)


def test_a_single_unbatched_instance_gets_a_hint_about_the_batch():
    with pytest.raises(InvalidInput, match=r"whole inputs array has shape \[784\]"):
        image_batch([0.0] * 784, MLP)


def test_pixel_range_is_checked_with_a_hint_for_0_255_values():
    with pytest.raises(InvalidInput, match="divide 0-255 pixel values by 255"):
        image_batch([[255.0] * 784], MLP)
    with pytest.raises(InvalidInput, match=r"in \[0, 1\]"):
        image_batch([[-0.5] * 784], MLP)


@pytest.mark.parametrize("bad", [[["a"] * 784], [[True] * 784], [[0.0] * 784, [0.0] * 783], [{"x": 1}], [None]])
def test_strings_booleans_ragged_and_objects_are_422(bad):
    with pytest.raises(InvalidInput):
        image_batch(bad, MLP)


def test_inputs_must_be_a_non_empty_list():
    with pytest.raises(InvalidInput, match="list"):
        image_batch({"a": 1}, MLP)
    with pytest.raises(InvalidInput, match="empty"):
        image_batch([], MLP)


def test_linear_takes_numbers_or_one_element_lists():
    np.testing.assert_array_equal(number_batch([1, [2.5], 3]), [[1.0], [2.5], [3.0]])
    np.testing.assert_array_equal(number_batch(4), [[4.0]])
    assert number_batch([1]).dtype == np.float32


@pytest.mark.parametrize("bad", [[[1, 2]], ["1"], [True], [[[1]]], [1e300]])
def test_linear_refuses_other_shapes_and_types(bad):
    with pytest.raises(InvalidInput):
        number_batch(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        ("3", 3),
        (" 12 ", 12),
        (True, None),
        (1.5, None),
        ("latest", None),
        ("-1", None),
        ({"v": 1}, None),
        ([1], None),
    ],
)
def test_versions_are_integers_or_their_digits(value, expected):
    assert parse_version(value) == expected
