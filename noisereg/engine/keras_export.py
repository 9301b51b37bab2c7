"""Keras reference models: the semantics the engine reproduces and the format users load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from noisereg.io import atomic_dir, make_zip_reproducible
from noisereg.net import MLPWeights, Net


def build_model(
    net: Net, n_inputs: int = 2, dense: Callable[..., keras.layers.Layer] = keras.layers.Dense
) -> keras.Model:
    """Return the Keras stack of a Net: the layer order documented in `noisereg.net`.

    A noise layer is present only where its stddev (or rate) is positive; with weight
    decay every Dense layer gets `kernel_regularizer=L2(l2)`. Keras has no layer
    for weight noise; it is training-only, so the inference model is the same without it,
    and tests pass a noisy `dense` factory to get the training semantics.
    Hidden noise sits on the pre-activation and ReLU is applied once (the reference's
    "both" model applied ReLU twice, putting its hidden noise after the activation).
    """
    if net.l2 > 0:
        plain_dense = dense

        def dense(*args: Any, **kwargs: Any) -> keras.layers.Layer:
            return plain_dense(*args, kernel_regularizer=keras.regularizers.L2(net.l2), **kwargs)

    # Explicit names: Keras' automatic ones count up per process ("sequential_3"), which
    # would make the saved files depend on how many models the process built before.
    layers: list[keras.layers.Layer] = [keras.Input(shape=(n_inputs,), name="inputs")]
    if net.input_stddev > 0:
        layers.append(keras.layers.GaussianNoise(net.input_stddev, name="input_noise"))
    for i, width in enumerate(net.hidden_units):
        layers.append(dense(width, name=f"hidden_{i}"))
        if net.hidden_stddev[i] > 0:
            layers.append(keras.layers.GaussianNoise(net.hidden_stddev[i], name=f"pre_noise_{i}"))
        layers.append(keras.layers.ReLU(name=f"relu_{i}"))
        if net.post_activation_stddev[i] > 0:
            noise = keras.layers.GaussianNoise(
                net.post_activation_stddev[i], name=f"post_noise_{i}"
            )
            layers.append(noise)
        if net.dropout_rate[i] > 0:
            layers.append(keras.layers.GaussianDropout(net.dropout_rate[i], name=f"dropout_{i}"))
        if net.bernoulli_dropout_rate[i] > 0:
            rate = net.bernoulli_dropout_rate[i]
            layers.append(keras.layers.Dropout(rate, name=f"bernoulli_dropout_{i}"))
    if net.logit_stddev > 0:
        layers.append(dense(1, name="output"))
        layers.append(keras.layers.GaussianNoise(net.logit_stddev, name="logit_noise"))
        layers.append(keras.layers.Activation("sigmoid", name="sigmoid"))
    else:
        layers.append(dense(1, activation="sigmoid", name="output"))
    return keras.Sequential(layers, name="noisy_mlp")


def to_keras(weights: MLPWeights, net: Net) -> keras.Model:
    """Return the Keras model of a Net holding the trained weights."""
    if weights.hidden_units != net.hidden_units:
        raise ValueError(f"weights of widths {weights.hidden_units} do not fit {net.hidden_units}")
    model = build_model(net, weights.kernels[0].shape[0])
    model.set_weights(weights.as_list())
    return model


def save_keras(model: keras.Model, path: Path) -> None:
    """Save a model as .keras via a temporary file, so a crash never leaves a partial file.

    Equal weights give equal bytes (fixed zip timestamps and save date), so DVC sees a
    retrained, unchanged model as unchanged.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.keras")
    model.save(partial)
    make_zip_reproducible(partial)
    partial.replace(path)


def weights_of(model: keras.Model) -> MLPWeights:
    """Return the dense weights of a model built by `build_model`."""
    return MLPWeights.from_list(model.get_weights())


def write_model_dir(directory: Path, net: Net, weights: list[MLPWeights]) -> None:
    """Write seed_<i>.keras per replicate and every replicate's weights stacked in weights.npz.

    The directory appears whole or not at all (built beside it, then renamed).
    """
    with atomic_dir(directory) as partial:
        for i, replicate in enumerate(weights):
            save_keras(to_keras(replicate, net), partial / f"seed_{i}.keras")
        kernels, biases = MLPWeights.stack(weights)
        stacked: dict[str, Any] = {}
        for layer, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
            stacked[f"kernel_{layer}"], stacked[f"bias_{layer}"] = kernel, bias
        np.savez(partial / "weights.npz", **stacked)
        make_zip_reproducible(partial / "weights.npz")
