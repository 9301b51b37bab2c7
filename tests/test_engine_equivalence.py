"""The batched engine reproduces keras.Model.fit: same losses, same predictions, same noise law.

Every noise placement of `Net` is checked against the matching Keras layer stack
(`keras_export.build_model`); weight noise, which Keras has no layer for, against the small
`NoisyDense` layer below, which states the definition in Keras terms.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from sklearn.datasets import make_circles

from noisereg.data.reference import Split
from noisereg.engine import trainer
from noisereg.engine.keras_export import build_model
from noisereg.engine.plan import SHUFFLE_STREAM
from noisereg.engine.randomness import derive_seed, glorot_uniform_mlp, stateless_uniforms
from noisereg.net import Net, predict_logits

REFERENCE_NET = Net.of(400)
DEEP_NET = Net.of((32, 16, 8))

pytestmark = pytest.mark.slow  # minutes of Keras fits and engine runs


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


def optimization(epochs: int, batch_size: int) -> trainer.Optimization:
    return trainer.Optimization.keras_adam(epochs, batch_size, shuffle=False)


def engine_run(
    split: Split, nets: list[Net], seeds: list[int], epochs: int, batch_size: int
) -> trainer.TrainResult:
    members = [
        trainer.Member(
            net,
            seed,
            seed + 1000,
            tuple(range(len(split.y_train))),
            tuple(range(len(split.y_test))),
        )
        for net, seed in zip(nets, seeds, strict=True)
    ]
    return trainer.train(
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


def keras_fast_fit(
    model: keras.Model, split: Split, epochs: int, batch_size: int, shuffle: bool = False
) -> float:
    """Same math as fit(epochs=N): the epochs' batches as one execution; return its mean loss.

    With `shuffle`, rows are reshuffled every epoch and batches never cross an epoch, as
    in fit(shuffle=True). The returned loss is Keras' running mean over every step,
    weighted by batch size.
    """
    rows = len(split.y_train)
    data = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
    if shuffle:
        data = data.shuffle(rows, reshuffle_each_iteration=True)
    data = data.batch(batch_size).repeat(epochs)
    steps = epochs * int(np.ceil(rows / batch_size))
    # The dataset is already shuffled per epoch; fit would ignore (and warn about) its own.
    history = model.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return float(history.history["loss"][-1])


NETS = [REFERENCE_NET, DEEP_NET]
NET_IDS = ["1x400", "32-16-8"]
# Epochs of the loss-curve checks. A wrong step or loss moves the curves past 1e-5 within
# the first epochs, so 20 reject what 100 did: Adam's step count off by one, its second
# moment without bias correction, epsilon inside the square root, a short last minibatch
# averaged over the full batch size, weight decay's gradient halved, the validation loss
# without the penalty (each run as a mutant of engine/loop.py). Keras runs a validation
# pass every epoch: at 100 epochs these six cases took over half of the module's time.
FIT_EPOCHS = 20


def fit_and_compare_losses(
    split: Split, net: Net, seed: int, batch_size: int
) -> tuple[trainer.TrainResult, dict[str, list[float]]]:
    """Train net with fit and with the engine for FIT_EPOCHS; assert equal loss curves."""
    model = keras_model(net, seed)
    history = model.fit(
        split.x_train,
        split.y_train,
        epochs=FIT_EPOCHS,
        batch_size=batch_size,
        shuffle=False,
        validation_data=(split.x_test, split.y_test),
        verbose=0,
    ).history
    result = engine_run(split, [net], [seed], FIT_EPOCHS, batch_size)
    for ours, theirs in (("train_loss", "loss"), ("val_loss", "val_loss")):
        difference = np.abs(result.history[ours][0] - np.array(history[theirs]))
        assert difference.max() < 1e-5, f"{ours}: max |engine - fit| = {difference.max():.2e}"
    return result, history


@pytest.mark.parametrize("net", NETS, ids=NET_IDS)
@pytest.mark.parametrize("batch_size", [32, 8], ids=["full-batch", "minibatch"])
def test_epoch_losses_match_fit(split: Split, net: Net, batch_size: int) -> None:
    result, history = fit_and_compare_losses(split, net, 11, batch_size)
    np.testing.assert_allclose(result.history["val_acc"][0], history["val_accuracy"], atol=1e-6)


@pytest.mark.parametrize("batch_size", [32, 8], ids=["full-batch", "minibatch"])
def test_weight_decay_losses_match_fit(split: Split, batch_size: int) -> None:
    # l2 = 1e-3 on 400 units: the penalty is ~0.1 of the loss, so leaving it out of the loss,
    # the validation loss or the gradient moves a curve by far more than 1e-5.
    result, _ = fit_and_compare_losses(split, Net.of((400,), l2=1e-3), 13, batch_size)
    plain = engine_run(split, [Net.of(400)], [13], FIT_EPOCHS, batch_size)
    assert np.abs(plain.history["val_loss"][0] - result.history["val_loss"][0]).max() > 1e-3


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
SEEDS = list(range(20))


def halved(net: Net) -> Net:
    """Return the net with every noise stddev halved (GaussianDropout: its multiplier's)."""
    rates = tuple(r / (4 * (1 - r) + r) for r in net.dropout_rate)  # stddev^2 / 4
    return dataclasses.replace(
        net,
        bernoulli_dropout_rate=tuple(r / 2 for r in net.bernoulli_dropout_rate),
        input_stddev=net.input_stddev / 2,
        hidden_stddev=tuple(s / 2 for s in net.hidden_stddev),
        post_activation_stddev=tuple(s / 2 for s in net.post_activation_stddev),
        dropout_rate=rates,
        weight_stddev=net.weight_stddev / 2,
        logit_stddev=net.logit_stddev / 2,
    )


def without_hidden(net: Net) -> Net:
    """Return the net with its pre-activation noise removed (a placement dropped)."""
    return dataclasses.replace(net, hidden_stddev=(0.0,) * net.depth)


# name -> (net, mutants of the engine that the check must reject)
NOISY_NETS = {
    "input+pre-activation": Net.of(WIDTH, input_stddev=0.3, hidden_stddev=0.3),
    "post-activation": Net.of(WIDTH, post_activation_stddev=0.3),
    "gaussian-dropout": Net.of(WIDTH, dropout_rate=0.3),
    "dropout": Net.of(WIDTH, bernoulli_dropout_rate=0.3),
    "weights": Net.of(WIDTH, weight_stddev=0.3),
    "logits": Net.of(WIDTH, logit_stddev=1.0),
    "deep, every layer": Net.of(
        (16, 16), hidden_stddev=0.3, post_activation_stddev=0.3, dropout_rate=0.2
    ),
}


def mutants(net: Net) -> dict[str, Net]:
    """Return the wrong engines the distribution check must tell apart from Keras."""
    found = {"stddev halved": halved(net), "noise removed": Net.of(net.hidden_units)}
    if (
        any(net.hidden_stddev)
        and not net.noiseless
        and without_hidden(net) != Net.of(net.hidden_units)
    ):
        found["pre-activation noise removed"] = without_hidden(net)
    return found


def mean_training_loss(
    split: Split, nets: list[Net], seeds: list[int], epochs: int, batch: int, shuffle: bool
) -> np.ndarray:
    """Return [len(nets), len(seeds)]: each engine run's training loss averaged over epochs.

    The training loss is what the noisy forward pass sees, so it measures the noise law
    directly; averaged over every step it matches the single running mean Keras reports
    for a run of `keras_fast_fit` (one epoch of all steps).
    """
    members = [
        trainer.Member(net, seed, seed + 1000, tuple(range(len(split.y_train))), (0,))
        for net in nets
        for seed in seeds
    ]
    opt = trainer.Optimization.keras_adam(epochs, batch, shuffle=shuffle)
    result = trainer.train(members, split.x_train, split.y_train, split.x_test, split.y_test, opt)
    return result.history["train_loss"].mean(axis=1).reshape(len(nets), len(seeds))


def keras_mean_training_loss(
    split: Split, net: Net, seeds: list[int], epochs: int, batch: int, shuffle: bool
) -> np.ndarray:
    """Return Keras' running-mean training loss over all steps, one run per seed.

    One model serves every seed: its weights are set to the seed's initial weights and
    Adam's state (moments and step count) is zeroed, which is a fresh run without paying
    for a new trace each time. The noise layers' generators run on, so each seed gets
    fresh noise.
    """
    keras.utils.set_random_seed(5000)
    model = keras_model(net, seeds[0])
    losses = []
    for seed in seeds:
        model.set_weights(glorot_uniform_mlp(seed, net.hidden_units).as_list())
        for variable in model.optimizer.variables:
            if variable.name != "learning_rate":  # the rest: step count and moments
                variable.assign(tf.zeros_like(variable))
        losses.append(keras_fast_fit(model, split, epochs, batch, shuffle))
    return np.array(losses)


def paired_p(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Return the two-sided Wilcoxon p of per-seed differences (same initial weights)."""
    return float(stats.wilcoxon(ours - theirs).pvalue)


def check_noise_law(
    split: Split, net: Net, epochs: int, batch: int, shuffle: bool
) -> dict[str, float]:
    """Return the paired p of the engine and of each mutant against Keras, same seeds.

    Pairing by initial weights removes the seed-to-seed spread, leaving only the noise
    draws' own; with 20 seeds this rejects every mutant (p ~ 2e-6: all 20 differences of
    one sign) while accepting the engine.
    """
    wrong = mutants(net)
    engine_losses = mean_training_loss(split, [net, *wrong.values()], SEEDS, epochs, batch, shuffle)
    theirs = keras_mean_training_loss(split, net, SEEDS, epochs, batch, shuffle)
    p_values = {"engine": paired_p(engine_losses[0], theirs)}
    for i, name in enumerate(wrong, start=1):
        p_values[name] = paired_p(engine_losses[i], theirs)
    return p_values


@pytest.mark.parametrize("name", list(NOISY_NETS))
def test_noisy_training_matches_keras_in_distribution(split: Split, name: str) -> None:
    """With noise on, the engine's noise law is Keras': mutants of it are rejected."""
    p_values = check_noise_law(split, NOISY_NETS[name], epochs=100, batch=32, shuffle=False)
    print(f"{name}: paired Wilcoxon p vs Keras: {p_values}")
    assert p_values.pop("engine") > 0.01
    for mutant, p in p_values.items():
        assert p < 0.001, f"{mutant} not told apart from Keras (p = {p:.3g})"


@pytest.fixture(scope="module")
def large_split() -> Split:
    """300 training and 300 test points of make_circles: batch 32 leaves a last batch of 12."""
    x, y = make_circles(n_samples=600, noise=0.1, random_state=3)
    x, y = x.astype(np.float32), y.astype(np.float32)
    return Split(x[:300], y[:300], x[300:], y[300:])


def engine_epoch_order(noise_seed: int, rows: int, epoch: int) -> np.ndarray:
    """Return the engine's shuffled row order of one epoch (the law batched._order uses)."""
    seed = derive_seed(noise_seed, SHUFFLE_STREAM)
    keys = stateless_uniforms(tf.constant([[seed, epoch]], tf.int32), [rows])
    return np.argsort(keys.numpy()[0], kind="stable")


def test_shuffled_minibatches_match_fit_exactly_without_noise(large_split: Split) -> None:
    """Batch 32 on 300 points (10 steps, a last batch of 12), reshuffled every epoch.

    Keras is fed the engine's own epoch orders, so the curves must agree step for step.
    Ten epochs: an order that is not redrawn each epoch differs from the second epoch on, and
    a short last batch averaged over 32 rows from the first (both run as mutants of
    engine/loop.py).
    """
    net, seed, epochs = Net.of(WIDTH, input_stddev=0.0, hidden_stddev=0.0), 21, 10
    members = [trainer.Member(net, seed, seed + 1000, tuple(range(300)), tuple(range(300)))]
    opt = trainer.Optimization.keras_adam(epochs)
    split = large_split
    result = trainer.train(members, split.x_train, split.y_train, split.x_test, split.y_test, opt)
    model = keras_model(net, seed)
    keras_losses = []
    for epoch in range(epochs):
        order = engine_epoch_order(seed + 1000, 300, epoch)
        assert not np.array_equal(order, np.arange(300))  # the rows really are reshuffled
        history = model.fit(
            split.x_train[order], split.y_train[order], batch_size=32, shuffle=False, verbose=0
        )
        keras_losses.append(history.history["loss"][0])
    difference = np.abs(result.history["train_loss"][0] - np.array(keras_losses))
    assert difference.max() < 1e-5, f"max |engine - fit| = {difference.max():.2e}"
    logits = predict_logits(result.weights[0], split.x_test)
    keras_logits = model.predict(split.x_test, verbose=0)[:, 0]
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), keras_logits, atol=1e-4)


@pytest.mark.parametrize(
    "net",
    # Hidden 0.1 is the large-data variant's setting; input noise on 2-D points needs 0.3
    # before halving it moves the loss beyond the spread of the two shuffles.
    [Net.of(WIDTH, hidden_stddev=0.1), Net.of(WIDTH, input_stddev=0.3)],
    ids=["hidden", "input"],
)
def test_shuffled_minibatches_with_noise_match_keras_in_distribution(
    large_split: Split, net: Net
) -> None:
    """The large-data regime (batch 32, short last batch, reshuffled) with noise on."""
    p_values = check_noise_law(large_split, net, epochs=30, batch=32, shuffle=True)
    print(f"minibatch {net.describe()}: paired Wilcoxon p vs Keras: {p_values}")
    assert p_values.pop("engine") > 0.01
    for mutant, p in p_values.items():
        assert p < 0.001, f"{mutant} not told apart from Keras (p = {p:.3g})"
