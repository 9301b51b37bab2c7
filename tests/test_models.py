"""Keras builders put noise where the design says, and exported weights predict identically."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from noisereg.engine import MLPWeights, predict_logits
from noisereg.models import build_model, save_keras, to_keras, weights_of
from noisereg.randomness import glorot_uniform_mlp


@pytest.mark.parametrize(
    ("input_stddev", "hidden_stddev", "expected"),
    [
        (0.0, 0.0, ["Dense", "ReLU", "Dense"]),
        (0.1, 0.0, ["GaussianNoise", "Dense", "ReLU", "Dense"]),
        (0.0, 0.1, ["Dense", "GaussianNoise", "ReLU", "Dense"]),
        # ReLU once, after the hidden noise: the reference's double ReLU is fixed.
        (0.1, 0.1, ["GaussianNoise", "Dense", "GaussianNoise", "ReLU", "Dense"]),
    ],
)
def test_layer_order(input_stddev: float, hidden_stddev: float, expected: list[str]) -> None:
    model = build_model(16, input_stddev, hidden_stddev)
    assert [type(layer).__name__ for layer in model.layers] == expected
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.layers[-1].units == 1


def test_noise_only_in_training() -> None:
    model = build_model(8, 0.5, 0.5)
    x = np.ones((4, 2), np.float32)
    inference = [model(x, training=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    assert not np.array_equal(model(x, training=True).numpy(), inference[0])


def test_saved_model_predicts_like_the_weights(tmp_path: Path) -> None:
    weights = MLPWeights(*glorot_uniform_mlp(3, 32))
    path = tmp_path / "m.keras"
    save_keras(to_keras(weights, 0.1, 0.1), path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    probability = 1 / (1 + np.exp(-predict_logits(weights, x)))
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[:, 0], probability, atol=1e-6)
    np.testing.assert_array_equal(weights_of(loaded).w1, weights.w1)
    assert not list(tmp_path.glob("*partial*"))
