"""What every study shares: the fixed-split seed scheme, CV folds and test scores.

Scores take float64 logits from `net.exact_logits`, so every score is the same number on
any CPU. Each seed scheme has one purpose and keeps its own derivation, because the seeds
it yields are part of every recorded result.
"""

from __future__ import annotations

import numpy as np

from noisereg.engine.randomness import derive_seed

ECE_BINS = 10


def correct_count(logits: np.ndarray, y: np.ndarray) -> int:
    """Return how many points the logits classify correctly (an exact integer, not a ratio)."""
    return int(np.count_nonzero((logits > 0) == (y > 0.5)))


def correct_points(logits: np.ndarray, y: np.ndarray) -> str:
    """Return which points the logits classify correctly, as '0'/'1' characters in point order.

    The per-point record lets an interval resample the test points as well as the seeds
    (`stats.two_way_interval`); a count alone cannot.
    """
    return "".join("1" if hit else "0" for hit in ((logits.ravel() > 0) == (y.ravel() > 0.5)))


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


def test_scores(logits: np.ndarray, y: np.ndarray) -> dict[str, float | int]:
    """Return the test record of one model: correct count, test size, log-loss and ECE."""
    return {
        "test_correct": correct_count(logits, y),
        "n_test": len(y),
        "test_loss": log_loss(logits, y),
        "test_ece": expected_calibration_error(logits, y),
    }


def fixed_split_seeds(root: int, replicate: int) -> tuple[int, int]:
    """Return (init_seed, noise_seed) of replicate i on the fixed reference split.

    Shared by every variant, grid refit, sweep point and the regularizers' reference row,
    so all of them pair by seed.
    """
    return derive_seed(root, replicate, 0), derive_seed(root, replicate, 1)


def repeated_stratified_folds(
    y: np.ndarray, folds: int, repeats: int, seed: int
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Return (repeat, fold, train_idx, val_idx) for stratified K-fold repeated with reshuffles."""
    # Imported here: the train and sweep stages import this module and would pay ~1.4 s
    # of scikit-learn and SciPy imports they never use.
    from sklearn.model_selection import RepeatedStratifiedKFold

    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    placeholder = np.zeros((len(y), 1))
    return [
        (i // folds, i % folds, train_idx, val_idx)
        for i, (train_idx, val_idx) in enumerate(splitter.split(placeholder, y))
    ]
