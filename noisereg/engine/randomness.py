"""Seeds, initial weights and noise streams, each derived from a model's own seed.

A model's result must not depend on which other models share its batch, so nothing here
uses a generator whose state advances with the batch: initial weights come from a NumPy
generator keyed by (seed, widths) and every noise draw is a stateless TensorFlow op keyed by
(stream seed, step), where each noise placement of a model has its own stream seed derived
from the model's noise seed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from noisereg.net import MLPWeights

# Seeds are fed to TF stateless ops as int32 pairs; keep them in the positive int32 range.
_SEED_MASK = 0x7FFFFFFF


def derive_seed(*keys: int) -> int:
    """Return a 31-bit seed mixed from integer keys (stable across runs and platforms)."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint32)
    return int(state[0]) & _SEED_MASK


def glorot_uniform_mlp(
    init_seed: int, hidden_units: int | Sequence[int], n_inputs: int = 2
) -> MLPWeights:
    """Return initial weights as Keras' glorot_uniform kernels and zero biases would draw them.

    Keyed by (seed, widths), so replicate i of every variant with the same architecture
    starts from the same weights (common random numbers).
    """
    units = [hidden_units] if isinstance(hidden_units, int) else list(hidden_units)
    rng = np.random.default_rng(np.random.SeedSequence([init_seed, *units]))
    sizes = [n_inputs, *units, 1]
    kernels, biases = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        kernels.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32))
        biases.append(np.zeros(fan_out, np.float32))
    return MLPWeights(tuple(kernels), tuple(biases))


# Floats per SIMD packet with AVX-512 (AVX2 has 8). Eigen evaluates an elementwise op packet
# by packet and the last size % packet elements one by one, and its scalar cos, sin and
# log1p differ from the packet ones in the last bit for ~20% of inputs: a draw's value would
# depend on where it sits in the batch. Padding each stream's block to whole packets keeps
# every draw on the packet path, wherever it sits and however many streams are drawn.
PACKET = 16

# tf.random.stateless_uniform's default algorithm (Philox on CPU), named for the raw ops.
_AUTO_SELECT = tf.random.Algorithm.AUTO_SELECT.value


def stateless_uniforms(seeds: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """Return [K, *shape] uniforms in [0, 1), one stream per row of the [K, 2] int32 `seeds`.

    Row k equals tf.random.stateless_uniform(shape, seeds[k]) bit for bit. The raw ops skip
    that function's `u * (max - min) + min` (an identity for [0, 1)): inside the training
    loop every op costs executor time per model and step, and this halves the ops per model.
    """
    draws = []
    for seed in tf.unstack(seeds):
        key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
        draws.append(
            tf.raw_ops.StatelessRandomUniformV2(
                shape=shape, key=key, counter=counter, alg=_AUTO_SELECT
            )
        )
    return tf.stack(draws)


def standard_normal(seeds: tf.Tensor, rows: int, cols: int) -> tf.Tensor:
    """Return a [K, rows, cols] float32 tensor of N(0, 1) draws, one stream per seed row.

    `seeds` is [K, 2] int32. Box-Muller over stateless uniforms: measured ~2x the throughput
    of tf.random.stateless_normal on this CPU, and still one independent stream per model.
    Pairs are formed within a row, so row i's values depend only on (seed, i, cols): a
    model padded to more rows (a larger batch-mate) sees the same noise on its real rows.
    The uniform is mapped to (0, 1] so the log is finite; the largest |z| is ~5.8.
    Each stream's values are bit-identical whatever the other rows of `seeds` (see PACKET).
    """
    half = (cols + 1) // 2
    per_stream = rows * half
    padding = -per_stream % PACKET
    uniforms = stateless_uniforms(seeds, [rows, 2, half])

    def blocks(values: tf.Tensor) -> tf.Tensor:
        """[K, rows, half] -> [K, whole packets], one stream per row."""
        flat = tf.reshape(values, [-1, per_stream])
        return tf.pad(flat, [[0, 0], [0, padding]]) if padding else flat

    def unblock(values: tf.Tensor) -> tf.Tensor:
        return tf.reshape(values[:, :per_stream] if padding else values, [-1, rows, half])

    radius = tf.sqrt(-2.0 * tf.math.log1p(-blocks(uniforms[:, :, 0])))
    angle = (2.0 * np.pi) * blocks(uniforms[:, :, 1])
    pairs = tf.concat([unblock(radius * tf.cos(angle)), unblock(radius * tf.sin(angle))], axis=-1)
    return pairs[:, :, :cols]
