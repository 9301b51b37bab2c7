"""The model family: a ReLU MLP with Gaussian noise at declared places, and its weights.

One `Net` describes both the architecture and where noise goes during training, in the
order the layers apply it (the Keras stack in `engine.keras_export.build_model`):

    x -> [+ input noise] -> for each hidden layer:
         Dense (kernel [+ weight noise]) -> [+ pre-activation noise] -> ReLU
         -> [+ post-activation noise] -> [x GaussianDropout multiplier] -> [Bernoulli dropout]
      -> Dense(1) (kernel [+ weight noise]) -> [+ logit noise] -> sigmoid

Bernoulli dropout is Keras' `Dropout(rate)`: each unit is kept with probability 1 - rate and
scaled by 1 / (1 - rate) (inverted dropout), so the expected activation is unchanged.
Weight decay (`l2`, not noise) adds l2 x the sum of squared kernel entries to the loss, as
Keras' `kernel_regularizer=L2(l2)` on every Dense layer does (biases are not decayed).
Additive noise is N(0, stddev^2); GaussianDropout(rate) multiplies by N(1, rate / (1 - rate))
as Keras does. Weight noise: at every training step each kernel (not the biases) is replaced
by kernel + N(0, stddev^2) drawn fresh for that step; the forward pass and the gradient use
the perturbed kernel and Adam updates the stored, unperturbed one. All noise is training-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def per_layer(value: float | Sequence[float], depth: int) -> tuple[float, ...]:
    """Return a per-hidden-layer tuple from one number (every layer) or one value per layer."""
    if isinstance(value, int | float):
        return (float(value),) * depth
    values = tuple(float(v) for v in value)
    if len(values) != depth:
        raise ValueError(f"expected {depth} per-layer values, got {len(values)}")
    return values


@dataclass(frozen=True)
class Net:
    """Hidden widths and training noise of one MLP; per-layer tuples have one entry per layer."""

    hidden_units: tuple[int, ...]
    input_stddev: float
    hidden_stddev: tuple[float, ...]  # on each hidden pre-activation
    post_activation_stddev: tuple[float, ...]
    dropout_rate: tuple[float, ...]
    weight_stddev: float
    logit_stddev: float
    l2: float = 0.0  # weight decay on every kernel
    bernoulli_dropout_rate: tuple[float, ...] = ()  # Keras Dropout per hidden layer; () = none

    def __post_init__(self) -> None:
        depth = len(self.hidden_units)
        if depth == 0:
            raise ValueError("a Net needs at least one hidden layer")
        if not self.bernoulli_dropout_rate:  # one spelling of "no dropout", so nets compare equal
            object.__setattr__(self, "bernoulli_dropout_rate", (0.0,) * depth)
        for name in (
            "hidden_stddev",
            "post_activation_stddev",
            "dropout_rate",
            "bernoulli_dropout_rate",
        ):
            if len(getattr(self, name)) != depth:
                raise ValueError(f"Net.{name} needs one value per hidden layer ({depth})")

    @classmethod
    def of(
        cls,
        hidden_units: int | Sequence[int],
        *,
        input_stddev: float = 0.0,
        hidden_stddev: float | Sequence[float] = 0.0,
        post_activation_stddev: float | Sequence[float] = 0.0,
        dropout_rate: float | Sequence[float] = 0.0,
        weight_stddev: float = 0.0,
        logit_stddev: float = 0.0,
        l2: float = 0.0,
        bernoulli_dropout_rate: float | Sequence[float] = 0.0,
    ) -> Net:
        """Return a Net; a single number for a per-layer setting applies to every layer."""
        units = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
        depth = len(units)
        return cls(
            hidden_units=tuple(int(u) for u in units),
            input_stddev=float(input_stddev),
            hidden_stddev=per_layer(hidden_stddev, depth),
            post_activation_stddev=per_layer(post_activation_stddev, depth),
            dropout_rate=per_layer(dropout_rate, depth),
            weight_stddev=float(weight_stddev),
            logit_stddev=float(logit_stddev),
            l2=float(l2),
            bernoulli_dropout_rate=per_layer(bernoulli_dropout_rate, depth),
        )

    @property
    def depth(self) -> int:
        """Return the number of hidden layers."""
        return len(self.hidden_units)

    @property
    def noiseless(self) -> bool:
        """Return True when training adds no noise anywhere."""
        settings = (
            self.input_stddev,
            *self.hidden_stddev,
            *self.post_activation_stddev,
            *self.dropout_rate,
            *self.bernoulli_dropout_rate,
            self.weight_stddev,
            self.logit_stddev,
        )
        return not any(settings)

    def describe(self) -> str:
        """Return a short human-readable list of the noise placements, e.g. 'input 0.1'."""
        parts = []
        if self.input_stddev:
            parts.append(f"input {self.input_stddev:g}")
        for label, values in (
            ("pre-activation", self.hidden_stddev),
            ("post-activation", self.post_activation_stddev),
            ("GaussianDropout rate", self.dropout_rate),
            ("dropout rate", self.bernoulli_dropout_rate),
        ):
            if any(values):
                same = len(set(values)) == 1
                shown = (
                    f"{values[0]:g}" if same else "[" + ", ".join(f"{v:g}" for v in values) + "]"
                )
                parts.append(f"{label} {shown}")
        if self.weight_stddev:
            parts.append(f"weights {self.weight_stddev:g}")
        if self.logit_stddev:
            parts.append(f"logits {self.logit_stddev:g}")
        noise = ", ".join(parts) or "none"
        return f"{noise}, L2 {self.l2:g}" if self.l2 else noise


# The sweep's placements: which of (input, hidden pre-activation) noise a placement sets.
PLACEMENT_FACTORS = {"input": (1.0, 0.0), "hidden": (0.0, 1.0), "both": (1.0, 1.0)}


def placement_net(width: int, placement: str, stddev: float) -> Net:
    """Return a one-layer net with `stddev` at a named placement (input, hidden or both)."""
    input_factor, hidden_factor = PLACEMENT_FACTORS[placement]
    return Net.of(width, input_stddev=input_factor * stddev, hidden_stddev=hidden_factor * stddev)


def dropout_stddev(rate: float) -> float:
    """Return the stddev of GaussianDropout's multiplier for a drop rate, as Keras defines it."""
    return float(np.sqrt(rate / (1.0 - rate)))


@dataclass(frozen=True)
class MLPWeights:
    """Trained weights in Keras layout: kernels [d_in, d_out] and biases [d_out], output last."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @property
    def hidden_units(self) -> tuple[int, ...]:
        """Return the hidden widths these weights belong to."""
        return tuple(int(k.shape[1]) for k in self.kernels[:-1])

    @staticmethod
    def stack(weights: Sequence[MLPWeights]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Return per-layer kernels and biases stacked along a new leading replicate axis."""
        depth = len(weights[0].kernels)
        return (
            [np.stack([w.kernels[layer] for w in weights]) for layer in range(depth)],
            [np.stack([w.biases[layer] for w in weights]) for layer in range(depth)],
        )

    @classmethod
    def unstack(
        cls, kernels: Sequence[np.ndarray], biases: Sequence[np.ndarray]
    ) -> list[MLPWeights]:
        """Return one MLPWeights per replicate from the per-layer arrays `stack` makes."""
        return [
            cls(tuple(k[r] for k in kernels), tuple(b[r] for b in biases))
            for r in range(len(kernels[0]))
        ]

    def as_list(self) -> list[np.ndarray]:
        """Return the weights in the order `keras.Model.set_weights` expects."""
        return [a for pair in zip(self.kernels, self.biases, strict=True) for a in pair]

    @classmethod
    def from_list(cls, arrays: Sequence[np.ndarray]) -> MLPWeights:
        """Return weights from the alternating kernel, bias list Keras' get_weights gives."""
        arrays = [np.asarray(a, np.float32) for a in arrays]
        return cls(tuple(arrays[0::2]), tuple(arrays[1::2]))


# Rows per block in predict_logits: a block's hidden activations stay in cache (4096 x 400
# floats = 6.5 MB instead of 64 MB for a 200 x 200 surface); measured 4.5x faster, same bits.
_PREDICT_ROWS = 4096


def predict_logits(weights: MLPWeights, x: np.ndarray) -> np.ndarray:
    """Return the clean (noise-free) logits of one net for inputs x [n, d]."""
    blocks = []
    for start in range(0, max(len(x), 1), _PREDICT_ROWS):
        hidden = x[start : start + _PREDICT_ROWS].astype(np.float32)
        for kernel, bias in zip(weights.kernels[:-1], weights.biases[:-1], strict=True):
            hidden = hidden @ kernel
            hidden += bias
            np.maximum(hidden, 0.0, out=hidden)
        blocks.append((hidden @ weights.kernels[-1] + weights.biases[-1])[:, 0])
    return np.concatenate(blocks)


def exact_logits(weights: MLPWeights, x: np.ndarray) -> np.ndarray:
    """Return the clean logits in float64 with one fixed summation order, on any CPU.

    BLAS picks its kernel (and so its summation order) by instruction set and thread count,
    so `predict_logits` can differ in the last bits between machines. Here every layer is a
    sequence of elementwise multiply-adds over the input units, in index order: numpy's
    elementwise float64 ufuncs round each operation the same way everywhere. Used for every
    number that lands in a tracked file; ~10x slower than BLAS, so the report's fine
    surfaces keep `predict_logits`.
    """
    hidden = np.asarray(x, np.float64)
    last = len(weights.kernels) - 1
    for layer, (kernel, bias) in enumerate(zip(weights.kernels, weights.biases, strict=True)):
        kernel64 = kernel.astype(np.float64)
        out = np.zeros((len(hidden), kernel.shape[1]), np.float64)
        for unit in range(kernel.shape[0]):
            out += hidden[:, unit : unit + 1] * kernel64[unit]
        out += bias.astype(np.float64)
        hidden = out if layer == last else np.maximum(out, 0.0)
    return hidden[:, 0]
