import numpy as np
import pytest

from training.learn.linear import TOY_X, TOY_Y, LinearRegressorGD, synthetic_data


def _relative_gap(model: LinearRegressorGD, x: np.ndarray, y: np.ndarray) -> float:
    w, b = np.polyfit(x, y, 1)
    return max(abs(model.w - w) / abs(w), abs(model.b - b) / abs(b))


def test_synthetic_fit_reaches_least_squares_and_the_decks_figures():
    x, y = synthetic_data(seed=0)
    model = LinearRegressorGD(seed=0).fit(x, y)
    assert _relative_gap(model, x, y) < 1e-3
    assert model.w == pytest.approx(21.0, abs=0.5)
    assert model.b == pytest.approx(4.4, abs=1.0)
    assert 80 < model.loss(x, y) < 120


def test_toy_data_gives_w1_b3():
    model = LinearRegressorGD().fit(TOY_X, TOY_Y)
    assert _relative_gap(model, TOY_X, TOY_Y) < 1e-3
    assert model.w == pytest.approx(1.0, abs=1e-6)
    assert model.b == pytest.approx(3.0, abs=1e-6)
    np.testing.assert_allclose(model.predict([4.0, 10.0]), [7.0, 13.0], atol=1e-5)


def test_loss_history_decreases_and_ends_near_final_loss():
    x, y = synthetic_data(seed=1, size=200)
    model = LinearRegressorGD(seed=1).fit(x, y)
    history = np.array(model.loss_history)
    assert history[0] > history[-1]
    assert np.all(np.diff(history) <= 1e-9)
    assert history[-1] == pytest.approx(model.loss(x, y), rel=1e-6)


def test_gradient_step_matches_the_decks_formulas():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    model = LinearRegressorGD(learning_rate=0.1, max_iterations=1, seed=0)
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(0.0, 0.1, 2)
    model.fit(x, y)
    error = w0 * x + b0 - y
    assert model.w == pytest.approx(w0 - 0.1 * np.mean(error * x))
    assert model.b == pytest.approx(b0 - 0.1 * np.mean(error))


def test_too_large_learning_rate_is_reported_not_silent():
    x, y = synthetic_data(seed=0, size=50)
    with pytest.raises(FloatingPointError, match="diverged"):
        LinearRegressorGD(learning_rate=1.0).fit(x, y)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="matching"):
        LinearRegressorGD().fit(np.arange(3.0), np.arange(4.0))
