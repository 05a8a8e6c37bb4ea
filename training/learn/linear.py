"""The deck's perceptron: y = w*x + b fitted by full-batch gradient descent in numpy.

The gradients are the deck's: d_w = mean((w*x + b - y) * x), d_b = mean(w*x + b - y), i.e. the
gradients of the loss mean((y_hat - y)^2) / 2. `loss` reports the plain mean squared error.

Convergence: on raw x in [1, 10] the loss surface is badly conditioned (the Hessian
[[mean(x^2), mean(x)], [mean(x), 1]] has eigenvalues about 38 and 0.2), so the step size must stay
below 2/38 and the flat direction needs thousands of steps. The defaults (learning rate 0.02,
up to 50,000 iterations, stop when both gradients are below 1e-9) reach the closed-form
least-squares solution to better than 1e-6 relative on the documented data sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SYNTHETIC_W = 21.0
SYNTHETIC_B = 4.4
SYNTHETIC_NOISE = 10.0
SYNTHETIC_SIZE = 1_000
TOY_X = np.array([1.0, 2.0, 3.0])
TOY_Y = np.array([4.0, 5.0, 6.0])


def synthetic_data(seed: int = 0, size: int = SYNTHETIC_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in [1, 10], y = 21 x + 4.4 + N(0, 10^2): the deck's noisy run (MSE about 100)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(1.0, 10.0, size)
    y = SYNTHETIC_W * x + SYNTHETIC_B + rng.normal(0.0, SYNTHETIC_NOISE, size)
    return x, y


@dataclass
class LinearRegressorGD:
    """y = w*x + b trained by gradient descent; `loss_history` holds the MSE before each step."""

    learning_rate: float = 0.02
    max_iterations: int = 50_000
    tolerance: float = 1e-9
    seed: int = 0
    w: float = field(init=False, default=0.0)
    b: float = field(init=False, default=0.0)
    iterations: int = field(init=False, default=0)
    loss_history: list[float] = field(init=False, default_factory=list)

    def fit(self, x: np.ndarray, y: np.ndarray) -> LinearRegressorGD:
        """Run gradient descent from a small seeded random start until the gradients vanish."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.shape != y.shape or x.size < 2:
            raise ValueError(f"need matching x and y with at least 2 points, got {x.shape} and {y.shape}")
        rng = np.random.default_rng(self.seed)
        self.w, self.b = (float(v) for v in rng.normal(0.0, 0.1, 2))
        self.loss_history = []
        for iteration in range(1, self.max_iterations + 1):
            self.iterations = iteration
            error = self.w * x + self.b - y
            loss = float(np.mean(error**2))
            if not np.isfinite(loss) or loss > 1e300:  # checked before it overflows, not after
                raise FloatingPointError(f"gradient descent diverged at iteration {iteration}: lower the learning rate")
            self.loss_history.append(loss)
            d_w = float(np.mean(error * x))
            d_b = float(np.mean(error))
            self.w -= self.learning_rate * d_w
            self.b -= self.learning_rate * d_b
            if abs(d_w) < self.tolerance and abs(d_b) < self.tolerance:
                break
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """w*x + b for each x."""
        return self.w * np.asarray(x, dtype=np.float64) + self.b

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean squared error of the current fit."""
        return float(np.mean((self.predict(x) - np.asarray(y, dtype=np.float64)) ** 2))
