"""Keras reference models: the semantics the engine reproduces and the format users load."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from noisereg.engine import MLPWeights


def build_model(
    width: int, input_stddev: float, hidden_stddev: float, n_inputs: int = 2
) -> keras.Model:
    """Return Input -> [GaussianNoise] -> Dense -> [GaussianNoise] -> ReLU -> Dense(1, sigmoid).

    Hidden noise sits on the pre-activation, and ReLU is applied once, also when both
    placements are on (the reference's "both" model applied ReLU twice, putting its hidden
    noise after the activation). A noise layer is present only when its stddev is positive.
    """
    layers: list[keras.layers.Layer] = [keras.Input(shape=(n_inputs,))]
    if input_stddev > 0:
        layers.append(keras.layers.GaussianNoise(input_stddev, name="input_noise"))
    layers.append(keras.layers.Dense(width, name="hidden"))
    if hidden_stddev > 0:
        layers.append(keras.layers.GaussianNoise(hidden_stddev, name="hidden_noise"))
    layers.append(keras.layers.ReLU(name="relu"))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output"))
    return keras.Sequential(layers)


def to_keras(weights: MLPWeights, input_stddev: float, hidden_stddev: float) -> keras.Model:
    """Return a Keras model of the given noise placements holding the trained weights."""
    model = build_model(weights.w1.shape[1], input_stddev, hidden_stddev, weights.w1.shape[0])
    model.set_weights(weights.as_list())
    return model


def save_keras(model: keras.Model, path: Path) -> None:
    """Save a model as .keras via a temporary file, so a crash never leaves a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.keras")
    model.save(partial)
    partial.replace(path)


def weights_of(model: keras.Model) -> MLPWeights:
    """Return the dense weights of a model built by `build_model`."""
    w1, b1, w2, b2 = (np.asarray(w, np.float32) for w in model.get_weights())
    return MLPWeights(w1, b1, w2, b2)
