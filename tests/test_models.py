"""Keras builders put noise where the design says, and exported weights predict identically."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pytest

from noisereg.engine.keras_export import build_model, save_keras, to_keras, weights_of
from noisereg.engine.randomness import glorot_uniform_mlp
from noisereg.net import Net, predict_logits
from tests.conftest import assert_same_weights


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (Net.of(16), ["Dense", "ReLU", "Dense"]),
        (Net.of(16, input_stddev=0.1), ["GaussianNoise", "Dense", "ReLU", "Dense"]),
        (Net.of(16, hidden_stddev=0.1), ["Dense", "GaussianNoise", "ReLU", "Dense"]),
        # ReLU once, after the hidden noise: the reference's double ReLU is fixed.
        (
            Net.of(16, input_stddev=0.1, hidden_stddev=0.1),
            ["GaussianNoise", "Dense", "GaussianNoise", "ReLU", "Dense"],
        ),
        (Net.of(16, post_activation_stddev=0.1), ["Dense", "ReLU", "GaussianNoise", "Dense"]),
        (Net.of(16, dropout_rate=0.2), ["Dense", "ReLU", "GaussianDropout", "Dense"]),
        (
            Net.of(16, dropout_rate=0.2, bernoulli_dropout_rate=0.3),
            ["Dense", "ReLU", "GaussianDropout", "Dropout", "Dense"],
        ),
        (
            Net.of(16, logit_stddev=0.5),
            ["Dense", "ReLU", "Dense", "GaussianNoise", "Activation"],
        ),
        # Weight noise has no Keras layer: the inference stack is the plain one.
        (Net.of(16, weight_stddev=0.1), ["Dense", "ReLU", "Dense"]),
        (
            Net.of((8, 4), hidden_stddev=[0.1, 0.0]),
            ["Dense", "GaussianNoise", "ReLU", "Dense", "ReLU", "Dense"],
        ),
    ],
)
def test_layer_order(net: Net, expected: list[str]) -> None:
    model = build_model(net)
    assert [type(layer).__name__ for layer in model.layers] == expected
    assert model.output_shape == (None, 1)
    probabilities = model(np.zeros((3, 2), np.float32), training=False).numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_weight_decay_is_a_kernel_regularizer_that_survives_saving(tmp_path: Path) -> None:
    net = Net.of((8, 4), l2=0.01)
    weights = glorot_uniform_mlp(5, (8, 4))
    path = tmp_path / "m.keras"
    save_keras(to_keras(weights, net), path)
    loaded = keras.models.load_model(path)
    dense = [layer for layer in loaded.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.kernel_regularizer.get_config() for layer in dense] == [{"l2": 0.01}] * 3
    assert all(layer.bias_regularizer is None for layer in dense)
    # Keras' penalty is l2 x the sum of squared kernel entries, the engine's definition.
    expected = 0.01 * sum(float(np.square(k).sum()) for k in weights.kernels)
    assert float(sum(loaded.losses)) == pytest.approx(expected, rel=1e-6)


def test_noise_only_in_training() -> None:
    model = build_model(Net.of(8, input_stddev=0.5, hidden_stddev=0.5, dropout_rate=0.3))
    x = np.ones((4, 2), np.float32)
    inference = [model(x, training=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    assert not np.array_equal(model(x, training=True).numpy(), inference[0])


@pytest.mark.parametrize("units", [(32,), (16, 8, 4)], ids=["1 layer", "3 layers"])
def test_saved_model_predicts_like_the_weights(tmp_path: Path, units: tuple[int, ...]) -> None:
    weights = glorot_uniform_mlp(3, units)
    # Non-zero biases, so a misplaced bias would show.
    weights = type(weights)(weights.kernels, tuple(b + 0.1 for b in weights.biases))
    path = tmp_path / "m.keras"
    save_keras(to_keras(weights, Net.of(units, input_stddev=0.1, dropout_rate=0.2)), path)
    loaded = keras.models.load_model(path)
    # More rows than one predict_logits block, so the block seam is checked too.
    x = np.random.default_rng(0).normal(size=(5000, 2)).astype(np.float32)
    probability = 1 / (1 + np.exp(-predict_logits(weights, x)))
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[:, 0], probability, atol=1e-6)
    assert_same_weights([weights_of(loaded)], [weights])
    assert not list(tmp_path.glob("*partial*"))


def test_saving_twice_gives_identical_bytes(tmp_path: Path) -> None:
    """No timestamp or memory address in the archive: DVC must see an unchanged model as such.

    Two separately built models with equal weights: Keras numbers shared objects by id(),
    which differs between the two.
    """
    weights, net = glorot_uniform_mlp(3, 8), Net.of(8, hidden_stddev=0.1)
    first = to_keras(weights, net)
    save_keras(first, tmp_path / "a.keras")
    time.sleep(2.1)  # zip timestamps have 2-second resolution
    model = to_keras(weights, net)
    save_keras(model, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    reloaded = keras.models.load_model(tmp_path / "b.keras")
    np.testing.assert_array_equal(reloaded.get_weights()[0], model.get_weights()[0])
