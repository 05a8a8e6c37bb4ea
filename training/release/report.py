"""Draw each version's report.png: learning curves and confusion matrix, or the fitted line."""

from __future__ import annotations

import io

import numpy as np


def _figure(columns: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, columns, figsize=(5 * columns, 4.2), dpi=80)
    return plt, fig, axes


def _png(plt, fig) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts of (true label, predicted label) pairs."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def classifier_report(title: str, history: dict[str, list[float]], matrix: np.ndarray) -> bytes:
    """Loss and accuracy per epoch (train and validation) beside the test confusion matrix."""
    plt, fig, (loss_ax, acc_ax, cm_ax) = _figure(3)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for axis, metric in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    cm_ax.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            cm_ax.text(
                col, row, str(count), ha="center", va="center", fontsize=6, color="white" if row == col else "black"
            )
    cm_ax.set_xticks(range(10))
    cm_ax.set_yticks(range(10))
    cm_ax.set_xlabel("predicted")
    cm_ax.set_ylabel("true")
    accuracy = np.trace(matrix) / matrix.sum()
    cm_ax.set_title(f"test confusion matrix (accuracy {accuracy:.4f})")
    fig.suptitle(title)
    return _png(plt, fig)


def linear_report(title: str, x: np.ndarray, y: np.ndarray, w: float, b: float, loss_history: list[float]) -> bytes:
    """The data with the fitted line, and the MSE per gradient-descent iteration."""
    plt, fig, (data_ax, loss_ax) = _figure(2)
    data_ax.scatter(x, y, s=6, alpha=0.5, label="data")
    line_x = np.linspace(float(x.min()), float(x.max()), 2)
    data_ax.plot(line_x, w * line_x + b, color="red", label=f"y = {w:.3f} x + {b:.3f}")
    data_ax.set_xlabel("x")
    data_ax.set_ylabel("y")
    data_ax.legend()
    data_ax.grid(alpha=0.3)
    loss_ax.plot(np.arange(1, len(loss_history) + 1), loss_history)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("iteration")
    loss_ax.set_title("mean squared error")
    loss_ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _png(plt, fig)
