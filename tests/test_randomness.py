"""The engine's own random draws follow the laws Keras uses: glorot-uniform and N(0, 1)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scipy import stats

from noisereg.engine.randomness import glorot_uniform_mlp, standard_normal


def test_glorot_kernels_follow_keras_glorot_uniform() -> None:
    # Keras' own initializer, the same shape: two samples of the same law.
    ours = np.concatenate([glorot_uniform_mlp(s, 400).kernels[0].ravel() for s in range(20)])
    theirs = np.concatenate(
        [
            np.asarray(keras.initializers.GlorotUniform(seed=100 + s)((2, 400))).ravel()
            for s in range(20)
        ]
    )
    limit = np.sqrt(6.0 / (2 + 400))
    assert np.abs(ours).max() <= limit and np.abs(theirs).max() <= limit
    assert stats.ks_2samp(ours, theirs).pvalue > 0.01
    # Same law, not merely the same support: a uniform on half the limit is rejected.
    assert stats.ks_2samp(ours / 2, theirs).pvalue < 1e-6
    biases = glorot_uniform_mlp(0, (100, 100)).biases
    assert all(not b.any() for b in biases)  # zero biases, as Keras' default


def test_standard_normal_has_the_moments_and_law_of_n01() -> None:
    draws = standard_normal(tf.constant([[1, 2], [3, 4]], tf.int32), 500, 401).numpy()
    assert draws.shape == (2, 500, 401)
    values = draws.ravel().astype(np.float64)
    n = values.size  # ~400,000: the mean's standard error is ~0.0016
    assert abs(values.mean()) < 5 / np.sqrt(n)
    assert abs(values.var() - 1.0) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(values)) < 0.02 and abs(stats.kurtosis(values)) < 0.04
    assert stats.kstest(values, "norm").pvalue > 0.01
    # Two seeds give independent streams.
    assert abs(np.corrcoef(draws[0].ravel(), draws[1].ravel())[0, 1]) < 0.01


def test_a_stream_draws_the_same_bits_whatever_is_drawn_beside_it() -> None:
    # 30 rows x 1 pair = 30 values per stream: without padding to whole SIMD packets, the
    # last values of an odd number of streams take Eigen's scalar cos/log1p path.
    seeds = tf.constant([[5, 1], [6, 1], [7, 1]], tf.int32)
    together = standard_normal(seeds, 30, 2).numpy()
    for row in range(3):
        alone = standard_normal(seeds[row : row + 1], 30, 2).numpy()[0]
        np.testing.assert_array_equal(alone, together[row])
    np.testing.assert_array_equal(standard_normal(seeds[:2], 30, 2).numpy(), together[:2])
