import json

from tests.fixtures import MODELS
from training.learn.models import CNN_PARAMS, MLP_PARAMS, build_cnn, build_digit_check, build_mlp


def test_mlp_has_the_decks_architecture_and_parameter_count():
    model = build_mlp()
    assert model.count_params() == MLP_PARAMS == 407_050
    assert model.input_shape == (None, 784)
    assert [(type(layer).__name__, getattr(layer, "units", None)) for layer in model.layers] == [
        ("Dense", 512),
        ("Dense", 10),
    ]
    assert model.layers[-1].activation.__name__ == "softmax"


def test_cnn_has_the_decks_architecture_and_parameter_count():
    model = build_cnn()
    assert model.count_params() == CNN_PARAMS == 93_322
    assert model.input_shape == (None, 28, 28, 1)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [32, 64, 64]
    assert model.layers[-1].activation.__name__ == "softmax"


def test_the_digit_check_is_the_architecture_the_served_isdigit_was_trained_with():
    card = json.loads((MODELS / "isdigit" / "1" / "model.json").read_text())
    model = build_digit_check()
    assert model.count_params() == card["parameters"] == 56_194
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 2)
