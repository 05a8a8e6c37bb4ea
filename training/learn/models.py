"""Build the models: the deck's MLP and CNN, exactly as its model summaries show them, and the isdigit check."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# Keras is imported inside each builder, as TensorFlow is everywhere in training/: importing it takes about 4.8 s
# here (python -X importtime -m training --help), which every command of `python -m training`, --help included,
# would otherwise pay before it starts.

MLP_PARAMS = 407_050
CNN_PARAMS = 93_322
NUM_CLASSES = 10


def build_mlp() -> keras.Model:
    """Input 784 -> Dense 512 relu -> Dense 10 softmax (407,050 parameters)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(784,), name="pixels"),
            layers.Dense(512, activation="relu", name="hidden"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="mlp",
    )


def build_cnn() -> keras.Model:
    """Three 3x3 convolutions with two max-pools, Dense 64, Dense 10 softmax (93,322 parameters)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="pixels"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(64, 3, activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="cnn",
    )


def build_digit_check() -> keras.Model:
    """isdigit: Conv 16, MaxPool, Conv 32, MaxPool, Dense 64, Dense 2 softmax (56,194 parameters)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="pixels"),
            layers.Conv2D(16, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(32, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dropout(0.2, name="dropout"),
            layers.Dense(2, activation="softmax", name="probabilities"),
        ],
        name="isdigit",
    )


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}
