"""The batched engine reproduces keras.Model.fit: same losses, same predictions, same noise law."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from noisereg import engine
from noisereg.data import Split
from noisereg.models import build_model
from noisereg.randomness import glorot_uniform_mlp

WIDTH = 400


def optimization(epochs: int, batch_size: int) -> engine.Optimization:
    return engine.Optimization(epochs, batch_size, 1e-3, 0.9, 0.999, 1e-7, 1, shuffle=False)


def engine_run(
    split: Split,
    epochs: int,
    batch_size: int,
    width: int = WIDTH,
    seed: int = 11,
    input_stddev: float = 0.0,
    hidden_stddev: float = 0.0,
) -> engine.TrainResult:
    member = engine.Member(
        width,
        input_stddev,
        hidden_stddev,
        seed,
        seed + 1,
        tuple(range(len(split.y_train))),
        tuple(range(len(split.y_test))),
    )
    return engine.train(
        [member],
        split.x_train,
        split.y_train,
        split.x_test,
        split.y_test,
        optimization(epochs, batch_size),
    )


def keras_model(
    seed: int, width: int = WIDTH, input_stddev: float = 0.0, hidden_stddev: float = 0.0
) -> keras.Model:
    model = build_model(width, input_stddev, hidden_stddev)
    model.set_weights(list(glorot_uniform_mlp(seed, width)))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    return model


def keras_fast_fit(model: keras.Model, split: Split, epochs: int, batch_size: int) -> None:
    """Same math as fit(epochs=N, shuffle=False): the batches repeated N times, one execution."""
    data = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
    data = data.batch(batch_size).repeat(epochs)
    steps = epochs * int(np.ceil(len(split.y_train) / batch_size))
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)


@pytest.mark.parametrize("batch_size", [32, 8], ids=["full-batch", "minibatch"])
def test_epoch_losses_match_fit(split: Split, batch_size: int) -> None:
    model = keras_model(11)
    history = model.fit(
        split.x_train,
        split.y_train,
        epochs=100,
        batch_size=batch_size,
        shuffle=False,
        validation_data=(split.x_test, split.y_test),
        verbose=0,
    )
    result = engine_run(split, 100, batch_size)
    for ours, theirs in (("train_loss", "loss"), ("val_loss", "val_loss")):
        difference = np.abs(result.history[ours][0] - np.array(history.history[theirs]))
        assert difference.max() < 1e-5, f"{ours}: max |engine - fit| = {difference.max():.2e}"
    np.testing.assert_allclose(
        result.history["val_acc"][0], history.history["val_accuracy"], atol=1e-6
    )


@pytest.mark.parametrize("batch_size", [32, 8], ids=["full-batch", "minibatch"])
def test_predictions_match_fit_after_500_epochs(split: Split, batch_size: int) -> None:
    model = keras_model(12)
    keras_fast_fit(model, split, 500, batch_size)
    result = engine_run(split, 500, batch_size, seed=12)
    ours = 1 / (1 + np.exp(-engine.predict_logits(result.weights[0], split.x_test)))
    theirs = model.predict(split.x_test, verbose=0)[:, 0]
    assert np.abs(ours - theirs).max() < 0.02


def test_noisy_training_matches_keras_in_distribution(split: Split) -> None:
    """With input and hidden noise on, 20 seeds of each give the same test-loss distribution.

    Mann-Whitney U, two-sided, on the test loss (continuous, unlike accuracy on 70 points).
    The two runs share initial weights but draw different noise, so they are not paired.
    """
    seeds, width, epochs, stddev = range(20), 32, 300, 0.3
    members = [
        engine.Member(width, stddev, stddev, s, 1000 + s, tuple(range(30)), tuple(range(70)))
        for s in seeds
    ]
    result = engine.train(
        members, split.x_train, split.y_train, split.x_test, split.y_test, optimization(epochs, 32)
    )
    ours = result.history["val_loss"][:, -1]
    theirs = []
    for s in seeds:
        keras.utils.set_random_seed(5000 + s)
        model = keras_model(s, width, stddev, stddev)
        keras_fast_fit(model, split, epochs, 32)
        theirs.append(model.evaluate(split.x_test, split.y_test, verbose=0)[0])
    p_value = stats.mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    print(f"noisy engine vs Keras test loss: Mann-Whitney U p = {p_value:.3f}")
    assert p_value > 0.01
    # The check has power: the same test separates noisy from noise-free training.
    clean = engine.train(
        [
            engine.Member(width, 0.0, 0.0, s, 1000 + s, tuple(range(30)), tuple(range(70)))
            for s in seeds
        ],
        split.x_train,
        split.y_train,
        split.x_test,
        split.y_test,
        optimization(epochs, 32),
    ).history["val_loss"][:, -1]
    assert not np.allclose(clean, ours)
