"""Scores of one model's clean logits on labelled points: correct count, log-loss, ECE.

Inputs are float64 logits from `net.exact_logits`, so every score is the same number on
any CPU.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 10


def correct_count(logits: np.ndarray, y: np.ndarray) -> int:
    """Return how many points the logits classify correctly (an exact integer, not a ratio)."""
    return int(np.count_nonzero((logits > 0) == (y > 0.5)))


def log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy on logits, in the numerically stable form Keras uses."""
    z = logits.astype(np.float64)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def expected_calibration_error(logits: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Return the ECE of the predicted class (Guo et al. 2017) with equal-width bins.

    Confidence is the probability of the predicted class, in [0.5, 1] for a binary model;
    the bins split [0, 1] into `bins` equal widths (so the lower half stays empty), and the
    ECE is the point-weighted mean of |accuracy - mean confidence| over the bins.
    """
    probability = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    predicted = probability > 0.5
    confidence = np.where(predicted, probability, 1.0 - probability)
    correct = predicted == (np.asarray(y) > 0.5)
    # A confidence of exactly 1 belongs to the last bin, as every other bin's upper edge.
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    error = 0.0
    for b in np.unique(which):
        in_bin = which == b
        error += abs(correct[in_bin].mean() - confidence[in_bin].mean()) * in_bin.sum()
    return float(error / len(confidence))
