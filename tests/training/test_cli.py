"""The retrain command's options: each gate flag means one thing, and the recipe's choices are the ones used."""

import pytest

from training.__main__ import parse_args
from training.learn.train import Recipe, _optimizer


def test_each_gate_belongs_to_its_models():
    assert parse_args(["cnn", "--min-accuracy", "0.5"]).min_accuracy == 0.5
    assert parse_args(["linear", "--max-distance", "1e-2"]).max_distance == 1e-2
    both = parse_args(["all", "--min-accuracy", "0.9", "--max-distance", "1e-2"])
    assert (both.min_accuracy, both.max_distance) == (0.9, 1e-2)


@pytest.mark.parametrize("argv", [["linear", "--min-accuracy", "0.5"], ["mlp", "--max-distance", "0.1"]])
def test_a_gate_given_to_a_model_it_does_not_apply_to_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert "applies to" in capsys.readouterr().err


def test_the_recipe_chooses_the_optimizer_and_its_schedule():
    import keras

    deck = _optimizer(Recipe(epochs=10, batch_size=128, optimizer="rmsprop", schedule="constant"), steps=100)
    assert isinstance(deck, keras.optimizers.RMSprop)
    assert float(deck.learning_rate) == pytest.approx(1e-3)
    tuned = _optimizer(Recipe(epochs=10, batch_size=128), steps=100)
    assert isinstance(tuned, keras.optimizers.Adam)
    assert float(tuned.learning_rate) == pytest.approx(1e-3)
    tuned.iterations.assign(50)
    assert float(tuned.learning_rate) == pytest.approx(5e-4, rel=1e-3)  # cosine: half way, half the rate
    deck.iterations.assign(50)
    assert float(deck.learning_rate) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Recipe(epochs=1, batch_size=1, optimizer="adagrad")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["cnn", "--epochs", "-1"], "--epochs: must be at least 1, got -1"),
        (["cnn", "--epochs", "two"], "--epochs: must be a whole number"),
        (["mlp", "--batch-size", "0"], "--batch-size: must be at least 1"),
        (["cnn", "--min-accuracy", "1.5"], "--min-accuracy: must be from 0 to 1"),
        (["cnn", "--seed", "-3"], "--seed: must be at least 1, got -3"),
        (["cnn", "--limit", "0"], "--limit: must be at least 1"),
    ],
)
def test_every_numeric_flag_is_checked_with_a_one_line_error(argv, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert says in error, error


def test_the_finetune_flags_are_checked_too(tmp_path, capsys, monkeypatch):
    from training.__main__ import parse_finetune_args

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("FEEDBACK_DIR", raising=False)
    mnist = ["--mnist-dir", str(tmp_path)]
    assert parse_finetune_args(["cnn", "--from-feedback", str(tmp_path), "--folds", "5", *mnist]).folds == 5
    with pytest.raises(SystemExit):
        parse_finetune_args(["cnn", "--from-feedback", str(tmp_path), "--folds", "1", *mnist])
    assert "--folds: must be at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_finetune_args(["cnn", "--from-feedback", str(tmp_path / "nowhere"), *mnist])
    assert "is not a directory" in capsys.readouterr().err
    # Offline without MNIST: an error that names the variable, never a download.
    with pytest.raises(SystemExit):
        parse_finetune_args(["cnn", "--from-feedback", str(tmp_path)])
    assert "set MNIST_DIR" in capsys.readouterr().err
    # The old spellings still work; the environment gives the defaults make finetune relies on.
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("FEEDBACK_DIR", str(tmp_path))
    args = parse_finetune_args(["cnn", "--data", str(tmp_path), "--data-dir", "elsewhere", "--base", "3"])
    assert (args.data, args.data_dir, args.from_feedback, args.base) == (tmp_path, "elsewhere", tmp_path, 3)


def test_finetune_help_says_every_default():
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "training", "finetune", "--help"], capture_output=True, text=True,
                           timeout=120, check=True).stdout  # fmt: skip
    assert "**" not in shown and "`" not in shown  # plain text, not Markdown
    for flag in ("--from-feedback", "--images", "--mnist-dir", "--model-dir", "--base", "--epochs", "--mix",
                 "--rendering-digits", "--folds", "--seed", "--reload-url"):  # fmt: skip
        assert flag in shown
    assert " ".join(shown.split()).count("default:") >= 11
