"""Train and evaluate the classifiers.

The recipe goes beyond the deck's plain RMSprop run only in training choices, never in the
architecture: Adam with a cosine-decaying learning rate, small random shifts (and for the CNN a
little rotation and zoom) as augmentation, 10% of the training set held out for validation, and
early stopping that keeps the best epoch's weights.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from training.data import Mnist, to_unit_range
from training.models import BUILDERS

OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}  # recipe name -> keras.optimizers class


@dataclass(frozen=True)
class Recipe:
    epochs: int
    batch_size: int
    learning_rate: float = 1e-3
    translation: float = 0.0  # fraction of the image size, e.g. 0.08 is about 2 px
    rotation: float = 0.0  # fraction of a full turn
    zoom: float = 0.0
    validation_split: float = 0.1
    patience: int = 5
    optimizer: str = "adam"  # one of OPTIMIZERS
    schedule: str = "cosine"  # "cosine" (decay to 0 over all steps) or "constant"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")


RECIPES = {
    "mlp": Recipe(epochs=30, batch_size=128, translation=0.08),
    "cnn": Recipe(epochs=15, batch_size=64, translation=0.08, rotation=0.03, zoom=0.08),
}


@dataclass
class TrainedClassifier:
    model: Any  # a keras.Model; keras is imported lazily, only where training runs
    history: dict[str, list[float]]
    test_accuracy: float
    test_loss: float
    test_probabilities: np.ndarray
    settings: dict = field(default_factory=dict)
    wall_time_s: float = 0.0


def model_inputs(name: str, images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) as the model's float32 input: (N, 784) for mlp, (N, 28, 28, 1) for cnn."""
    pixels = to_unit_range(images)
    return pixels.reshape(len(images), 784) if name == "mlp" else pixels[..., np.newaxis]


def _augmenter(recipe: Recipe, seed: int):
    import keras

    steps = []
    if recipe.translation:
        steps.append(
            keras.layers.RandomTranslation(recipe.translation, recipe.translation, fill_mode="constant", seed=seed)
        )
    if recipe.rotation:
        steps.append(keras.layers.RandomRotation(recipe.rotation, fill_mode="constant", seed=seed + 1))
    if recipe.zoom:
        steps.append(keras.layers.RandomZoom(recipe.zoom, fill_mode="constant", seed=seed + 2))
    return keras.Sequential(steps) if steps else None


def _optimizer(recipe: Recipe, steps: int):
    """The recipe's optimizer with its learning-rate schedule over `steps` training steps."""
    import keras

    rate = (
        keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=steps)
        if recipe.schedule == "cosine"
        else recipe.learning_rate
    )
    return getattr(keras.optimizers, OPTIMIZERS[recipe.optimizer])(learning_rate=rate)


def _datasets(name: str, recipe: Recipe, batch_size: int, x: np.ndarray, y: np.ndarray, seed: int):
    import tensorflow as tf

    split = int(len(x) * (1 - recipe.validation_split))
    order = np.random.default_rng(seed).permutation(len(x))
    train_idx, val_idx = order[:split], order[split:]
    images = to_unit_range(x)[..., np.newaxis]
    augment = _augmenter(recipe, seed)
    flat = name == "mlp"

    def to_model_input(batch, labels):
        return (tf.reshape(batch, (-1, 784)) if flat else batch), labels

    train = tf.data.Dataset.from_tensor_slices((images[train_idx], y[train_idx]))
    train = train.shuffle(len(train_idx), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augment is not None:
        train = train.map(lambda b, labels: (augment(b, training=True), labels), num_parallel_calls=tf.data.AUTOTUNE)
    train = train.map(to_model_input).prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((images[val_idx], y[val_idx])).batch(512).map(to_model_input)
    return train, val, len(train_idx)


def train_classifier(
    name: str, data: Mnist, epochs: int | None = None, batch_size: int | None = None, seed: int = 0, verbose: int = 1
) -> TrainedClassifier:
    """Build, train and evaluate `name` ("mlp" or "cnn") on MNIST."""
    import keras

    recipe = RECIPES[name]
    epochs = epochs or recipe.epochs
    batch_size = batch_size or recipe.batch_size
    keras.utils.set_random_seed(seed)
    model = BUILDERS[name]()
    model.summary()
    train, val, train_samples = _datasets(name, recipe, batch_size, data.x_train, data.y_train, seed)
    model.compile(
        optimizer=_optimizer(recipe, steps=epochs * -(-train_samples // batch_size)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=recipe.patience, restore_best_weights=True)
    started = time.perf_counter()
    fit = model.fit(train, validation_data=val, epochs=epochs, callbacks=[stop], shuffle=False, verbose=verbose)
    wall_time = time.perf_counter() - started
    x_test = model_inputs(name, data.x_test)
    test_loss, test_accuracy = model.evaluate(x_test, data.y_test, batch_size=512, verbose=0)
    probabilities = model.predict(x_test, batch_size=512, verbose=0)
    settings = {
        **asdict(recipe),
        "epochs": epochs,
        "epochs_run": len(fit.history["loss"]),
        "batch_size": batch_size,
        "seed": seed,
        "train_samples": train_samples,
        "validation_samples": len(data.x_train) - train_samples,
        "loss": "sparse_categorical_crossentropy",
    }
    return TrainedClassifier(
        model,
        {k: [float(v) for v in vs] for k, vs in fit.history.items()},
        float(test_accuracy),
        float(test_loss),
        probabilities,
        settings,
        wall_time,
    )
