"""The batched engine reproduces keras.Model.fit: same losses, same predictions, same noise law.

Every noise placement of `Net` is checked against the matching Keras layer stack
(`models.build_model`); weight noise, which Keras has no layer for, against the small
`NoisyDense` layer below, which states the definition in Keras terms.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from noisereg import engine
from noisereg.data import Split
from noisereg.models import build_model
from noisereg.net import Net, predict_logits
from noisereg.randomness import glorot_uniform_mlp

REFERENCE_NET = Net.of(400)
DEEP_NET = Net.of((32, 16, 8))


class NoisyDense(keras.layers.Dense):
    """Dense whose kernel gets fresh N(0, stddev^2) noise at every training call."""

    def __init__(self, units: int, stddev: float = 0.0, **kwargs: object) -> None:
        super().__init__(units, **kwargs)
        self.stddev = stddev
        self.noise_seeds = keras.random.SeedGenerator()

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        kernel = self.kernel
        if training:
            kernel = kernel + keras.random.normal(
                kernel.shape, stddev=self.stddev, seed=self.noise_seeds
            )
        return self.activation(keras.ops.matmul(inputs, kernel) + self.bias)


def optimization(epochs: int, batch_size: int) -> engine.Optimization:
    return engine.Optimization(epochs, batch_size, 1e-3, 0.9, 0.999, 1e-7, 1, shuffle=False)


def engine_run(
    split: Split, nets: list[Net], seeds: list[int], epochs: int, batch_size: int
) -> engine.TrainResult:
    members = [
        engine.Member(
            net,
            seed,
            seed + 1000,
            tuple(range(len(split.y_train))),
            tuple(range(len(split.y_test))),
        )
        for net, seed in zip(nets, seeds, strict=True)
    ]
    return engine.train(
        members,
        split.x_train,
        split.y_train,
        split.x_test,
        split.y_test,
        optimization(epochs, batch_size),
    )


def keras_model(net: Net, seed: int) -> keras.Model:
    if net.weight_stddev > 0:
        model = build_model(
            net, dense=lambda units, **kw: NoisyDense(units, net.weight_stddev, **kw)
        )
    else:
        model = build_model(net)
    model.set_weights(glorot_uniform_mlp(seed, net.hidden_units).as_list())
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    return model


def keras_fast_fit(model: keras.Model, split: Split, epochs: int, batch_size: int) -> None:
    """Same math as fit(epochs=N, shuffle=False): the batches repeated N times, one execution."""
    data = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
    data = data.batch(batch_size).repeat(epochs)
    steps = epochs * int(np.ceil(len(split.y_train) / batch_size))
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)


NETS = [REFERENCE_NET, DEEP_NET]
NET_IDS = ["1x400", "32-16-8"]


@pytest.mark.parametrize("net", NETS, ids=NET_IDS)
@pytest.mark.parametrize("batch_size", [32, 8], ids=["full-batch", "minibatch"])
def test_epoch_losses_match_fit(split: Split, net: Net, batch_size: int) -> None:
    model = keras_model(net, 11)
    history = model.fit(
        split.x_train,
        split.y_train,
        epochs=100,
        batch_size=batch_size,
        shuffle=False,
        validation_data=(split.x_test, split.y_test),
        verbose=0,
    )
    result = engine_run(split, [net], [11], 100, batch_size)
    for ours, theirs in (("train_loss", "loss"), ("val_loss", "val_loss")):
        difference = np.abs(result.history[ours][0] - np.array(history.history[theirs]))
        assert difference.max() < 1e-5, f"{ours}: max |engine - fit| = {difference.max():.2e}"
    np.testing.assert_allclose(
        result.history["val_acc"][0], history.history["val_accuracy"], atol=1e-6
    )


@pytest.mark.parametrize("net", NETS, ids=NET_IDS)
@pytest.mark.parametrize("batch_size", [32, 8], ids=["full-batch", "minibatch"])
def test_predictions_match_fit_after_500_epochs(split: Split, net: Net, batch_size: int) -> None:
    model = keras_model(net, 12)
    keras_fast_fit(model, split, 500, batch_size)
    result = engine_run(split, [net], [12], 500, batch_size)
    ours = 1 / (1 + np.exp(-predict_logits(result.weights[0], split.x_test)))
    theirs = model.predict(split.x_test, verbose=0)[:, 0]
    assert np.abs(ours - theirs).max() < 0.02


WIDTH = 32
NOISY_NETS = {
    "input+pre-activation": Net.of(WIDTH, input_stddev=0.3, hidden_stddev=0.3),
    "post-activation": Net.of(WIDTH, post_activation_stddev=0.3),
    "gaussian-dropout": Net.of(WIDTH, dropout_rate=0.3),
    "weights": Net.of(WIDTH, weight_stddev=0.3),
    "logits": Net.of(WIDTH, logit_stddev=1.0),
    "deep, every layer": Net.of(
        (16, 16), hidden_stddev=0.3, post_activation_stddev=0.3, dropout_rate=0.2
    ),
}


@pytest.mark.parametrize("name", list(NOISY_NETS))
def test_noisy_training_matches_keras_in_distribution(split: Split, name: str) -> None:
    """With noise on, 20 seeds of each give the same test-loss distribution as Keras.

    Mann-Whitney U, two-sided, on the test loss (continuous, unlike accuracy on 70 points).
    The two runs share initial weights but draw different noise, so they are not paired.
    """
    net, seeds, epochs = NOISY_NETS[name], list(range(20)), 200
    clean_net = Net.of(net.hidden_units)
    result = engine_run(split, [net] * 20 + [clean_net] * 20, seeds + seeds, epochs, 32)
    ours, clean = result.history["val_loss"][:20, -1], result.history["val_loss"][20:, -1]
    theirs = []
    for s in seeds:
        keras.utils.set_random_seed(5000 + s)
        model = keras_model(net, s)
        keras_fast_fit(model, split, epochs, 32)
        theirs.append(model.evaluate(split.x_test, split.y_test, verbose=0)[0])
    p_value = stats.mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    print(f"{name}: noisy engine vs Keras test loss: Mann-Whitney U p = {p_value:.3f}")
    assert p_value > 0.01
    # The noise did something: noisy and noise-free runs from the same weights differ.
    assert not np.allclose(clean, ours)
