"""Noise against the standard regularizers, each tuned by the same CV with the same budget.

For one dataset, every method (weight decay, Bernoulli dropout, early stopping, and the
noise placements) gets the same candidates count and the same repeated stratified CV on
the tuning data; the candidate with the most pooled validation correct wins, ties broken by
the mean validation log-loss (folds of a few points tie often in accuracy; log-loss alone
preferred nets regularized to near-constant predictions, whose loss beats an overconfident
net's while their accuracy is at chance). Early stopping's candidates are
epoch counts read off the validation curves of the unregularized fold models, so it costs
no extra training. Then hidden noise is tuned again on top of the best non-noise method,
to see whether the gains add. Each chosen setting (and no regularization) is refit over the
replicate seeds and scored on the test set, which never takes part in a choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from noisereg.data.reference import Split
from noisereg.data.synthetic import generate
from noisereg.engine import backends
from noisereg.engine import trainer as engine
from noisereg.engine.randomness import derive_seed
from noisereg.experiments.fresh_draws import (
    fresh_draw_optimization,
    fresh_draw_seeds,
    test_seed,
    training_draws,
)
from noisereg.experiments.protocol import (
    correct_count,
    correct_points,
    fixed_split_seeds,
    log_loss,
    repeated_stratified_folds,
    test_scores,
)
from noisereg.net import Net, exact_logits
from noisereg.params import (
    COMBINED,
    EARLY_STOPPING,
    NON_NOISE_METHODS,
    NONE,
    ComputeParams,
    Optimization,
    Params,
    RegularizersParams,
)


@dataclass(frozen=True)
class Setting:
    """One trainable configuration: a method at one strength, as a net and an epoch count."""

    method: str
    value: float
    net: Net
    epochs: int


@dataclass(frozen=True)
class Protocol:
    """How every model of one comparison trains: width and optimizer (full batch)."""

    hidden_units: int
    opt: Optimization


@dataclass(frozen=True)
class Comparison:
    """One dataset's CV scores, chosen strengths and per-seed test scores of every method."""

    cv: pd.DataFrame  # method, value, cv_correct (pooled over folds), cv_loss (mean)
    chosen: pd.DataFrame  # method, value, epochs, best_non_noise, cv_correct, cv_loss
    per_seed: pd.DataFrame  # method, replicate, test_correct, n_test, test_loss, test_ece
    # method, replicate, test_points: the per-point record on the fixed split only (its 70
    # points are a source of chance the intervals resample; a fresh-draw test set has 10,000)
    test_points: pd.DataFrame


def with_method(base: Setting, method: str, value: float) -> Setting:
    """Return `base` with one method's strength set, labelled with that method and value.

    The method names are the Net fields they set (`l2`, `hidden_stddev`, ...); early
    stopping sets the epochs.
    """
    if method == EARLY_STOPPING:
        return replace(base, method=method, value=float(value), epochs=int(value))
    changes: dict[str, Any] = {method: _per_layer(base.net, method, value)}
    net = replace(base.net, **changes)
    return replace(base, method=method, value=float(value), net=net)


def _per_layer(net: Net, method: str, value: float) -> float | tuple[float, ...]:
    current = getattr(net, method)
    return (float(value),) * net.depth if isinstance(current, tuple) else float(value)


def early_stopping_epochs(fractions: Sequence[float], epochs: int) -> list[int]:
    """Return the candidate epoch counts: each fraction of the protocol's epochs, >= 1."""
    return [max(1, round(f * epochs)) for f in fractions]


def early_stopping_epoch(
    logged_epochs: np.ndarray,
    val_correct: np.ndarray,
    val_loss: np.ndarray,
    candidates: Sequence[int],
) -> tuple[int, list[tuple[int, float]]]:
    """Return the candidate epoch with the most pooled validation correct, and every score.

    `val_correct` and `val_loss` are [folds, logs] (correct counts and mean losses per fold)
    logged at `logged_epochs`. Ties go to the lower mean loss, then the earlier epoch.
    Scores are (pooled correct, mean loss) per candidate.
    """
    columns = [int(np.flatnonzero(logged_epochs == e)[0]) for e in candidates]
    scores = [
        (round(float(val_correct[:, c].sum())), float(val_loss[:, c].mean())) for c in columns
    ]
    return candidates[best_index(scores)], scores


def best_index(scores: Sequence[tuple[int, float]]) -> int:
    """Return the position of the best (pooled correct, mean loss): most correct, then least
    loss, then the first (the candidates' order, weakest first, breaks exact ties)."""
    return min(range(len(scores)), key=lambda i: (-scores[i][0], scores[i][1], i))


def _log_every(candidates: Sequence[int], epochs: int) -> int:
    return reduce(math.gcd, [*candidates, epochs])


@dataclass(frozen=True)
class Curves:
    """The validation curves of one setting's fold models: correct counts and losses."""

    logged_epochs: np.ndarray
    correct: np.ndarray  # [folds, logs]
    loss: np.ndarray  # [folds, logs]


@dataclass(frozen=True)
class Tuning:
    """What every CV of one dataset shares: its tuning points, the CV and the protocol."""

    x: np.ndarray  # float32
    y: np.ndarray  # float32 0/1
    reg: RegularizersParams
    protocol: Protocol
    compute: ComputeParams


def cv_scores(
    settings: Sequence[Setting], tuning: Tuning, label: str, log_every: int
) -> tuple[list[tuple[int, float]], list[Curves]]:
    """Return each setting's (pooled CV correct, mean CV log-loss) and its validation curves.

    A fold's models share initial weights and noise stream, so the candidates are compared
    paired. The final scores come from the weights (the loss without the l2 penalty, which
    the engine's validation loss includes), so every method is scored by the same numbers.
    """
    x, y, reg = tuning.x, tuning.y, tuning.reg
    folds = repeated_stratified_folds(y, reg.cv_folds, reg.cv_repeats, reg.seed)
    scores: dict[int, tuple[int, float]] = {}
    curves: dict[int, Curves] = {}
    for epochs in sorted({s.epochs for s in settings}):
        group = [i for i, s in enumerate(settings) if s.epochs == epochs]
        members = [
            engine.Member(
                settings[i].net,
                derive_seed(reg.seed, repeat, fold, 0),
                derive_seed(reg.seed, repeat, fold, 1),
                tuple(map(int, train_idx)),
                tuple(map(int, val_idx)),
            )
            for i in group
            for repeat, fold, train_idx, val_idx in folds
        ]
        opt = tuning.protocol.opt.model_copy(update={"epochs": epochs, "log_every": log_every})
        result = backends.train(members, x, y, x, y, opt, tuning.compute, label)
        sizes = np.array([len(m.val_rows) for m in members[: len(folds)]], np.float64)
        for position, i in enumerate(group):
            block = slice(position * len(folds), (position + 1) * len(folds))
            logits = [
                (exact_logits(w, x[list(m.val_rows)]), y[list(m.val_rows)])
                for w, m in zip(result.weights[block], members[block], strict=True)
            ]
            scores[i] = (
                sum(correct_count(z, t) for z, t in logits),
                float(np.mean([log_loss(z, t) for z, t in logits])),
            )
            history = result.history
            curves[i] = Curves(
                result.logged_epochs,
                history["val_acc"][block].astype(np.float64) * sizes[:, None],
                history["val_loss"][block].astype(np.float64),
            )
    order = sorted(scores)
    return [scores[i] for i in order], [curves[i] for i in order]


CV_COLUMNS = ["method", "value", "cv_correct", "cv_loss"]


def tune(
    tuning: Tuning, label: str
) -> tuple[pd.DataFrame, dict[str, Setting], str, dict[str, tuple[int, float]]]:
    """Return the CV table, the chosen setting per method, the best non-noise method, and
    each chosen setting's (pooled CV correct, mean CV loss).

    Every candidate is scored by its pooled CV correct count, ties broken by the mean CV
    log-loss; the best non-noise method is the one whose chosen setting scores best.
    """
    reg, epochs = tuning.reg, tuning.protocol.opt.epochs
    base = Setting(NONE, 0.0, Net.of(tuning.protocol.hidden_units), epochs)
    fractions = next((v for m, v in reg.candidates.items() if m == EARLY_STOPPING), ())
    stop_candidates = early_stopping_epochs(fractions, epochs)
    log_every = _log_every(stop_candidates, epochs)
    settings = [base] + [
        with_method(base, method, value)
        for method, values in reg.candidates.items()
        if method != EARLY_STOPPING
        for value in values
    ]
    scores, curves = cv_scores(settings, tuning, f"{label} CV", log_every)
    rows = [(s.method, s.value, *score) for s, score in zip(settings, scores, strict=True)]
    if stop_candidates:
        plain = curves[0]  # the unregularized fold models
        _, stop_scores = early_stopping_epoch(
            plain.logged_epochs, plain.correct, plain.loss, stop_candidates
        )
        rows += [
            (EARLY_STOPPING, float(e), *score)
            for e, score in zip(stop_candidates, stop_scores, strict=True)
        ]
    table = pd.DataFrame(rows, columns=CV_COLUMNS)
    chosen = {NONE: base}
    best_score = {NONE: scores[0]}
    for method in reg.candidates:
        candidates = table[table["method"] == method]
        options = list(zip(candidates["cv_correct"], candidates["cv_loss"], strict=True))
        pick = best_index(options)
        chosen[method] = with_method(base, method, float(candidates["value"].iloc[pick]))
        best_score[method] = options[pick]
    non_noise = [m for m in NON_NOISE_METHODS if m in reg.candidates]
    best = non_noise[best_index([best_score[m] for m in non_noise])] if non_noise else NONE
    if "hidden_stddev" in reg.candidates:
        combined = [
            replace(with_method(chosen[best], "hidden_stddev", v), method=COMBINED)
            for v in reg.candidates["hidden_stddev"]
        ]
        extra, _ = cv_scores(combined, tuning, f"{label} CV +{best}", log_every)
        table = pd.concat(
            [
                table,
                pd.DataFrame(
                    [(COMBINED, s.value, *score) for s, score in zip(combined, extra, strict=True)],
                    columns=CV_COLUMNS,
                ),
            ],
            ignore_index=True,
        )
        chosen[COMBINED] = combined[best_index(extra)]
        best_score[COMBINED] = extra[best_index(extra)]
    return table, chosen, best, best_score


def refit(
    chosen: dict[str, Setting],
    draws: Sequence[tuple[np.ndarray, np.ndarray]],
    seeds: Sequence[tuple[int, int]],
    test: tuple[np.ndarray, np.ndarray],
    compute_params: ComputeParams,
    protocol: Protocol,
    label: str,
    keep_points: bool = False,
) -> pd.DataFrame:
    """Return every chosen setting's test scores, trained once per replicate seed.

    With `keep_points`, each row also records which test points it classified correctly.

    Replicate r trains on draws[r] (one fixed draw repeated, or a fresh draw per seed) from
    seeds[r], the same for every method: the differences between methods are paired.
    """
    pool_x = np.concatenate([x for x, _ in draws]).astype(np.float32)
    pool_y = np.concatenate([y for _, y in draws]).astype(np.float32)
    starts = np.cumsum([0, *(len(y) for _, y in draws)])
    rows = [tuple(range(starts[r], starts[r + 1])) for r in range(len(draws))]
    names = list(chosen)
    records = []
    for epochs in sorted({s.epochs for s in chosen.values()}):
        group = [m for m in names if chosen[m].epochs == epochs]
        members = [
            engine.Member(chosen[m].net, init, noise, rows[r], rows[r][:1])
            for m in group
            for r, (init, noise) in enumerate(seeds)
        ]
        opt = protocol.opt.model_copy(update={"epochs": epochs, "log_every": epochs})
        result = backends.train(members, pool_x, pool_y, pool_x, pool_y, opt, compute_params, label)
        test_x, test_y = test
        for index, weights in enumerate(result.weights):
            method, replicate = group[index // len(seeds)], index % len(seeds)
            logits = exact_logits(weights, test_x)
            record = {"method": method, "replicate": replicate, **test_scores(logits, test_y)}
            if keep_points:
                record["test_points"] = correct_points(logits, test_y)
            records.append(record)
    frame = pd.DataFrame(records)
    frame["order"] = frame["method"].map({m: i for i, m in enumerate(names)})
    return frame.sort_values(["order", "replicate"]).drop(columns="order").reset_index(drop=True)


def compare(
    tuning: tuple[np.ndarray, np.ndarray],
    draws: Sequence[tuple[np.ndarray, np.ndarray]],
    seeds: Sequence[tuple[int, int]],
    test: tuple[np.ndarray, np.ndarray],
    reg: RegularizersParams,
    protocol: Protocol,
    compute_params: ComputeParams,
    label: str,
    keep_points: bool = False,
) -> Comparison:
    """Return one dataset's comparison: tune every method on `tuning`, refit on `draws`."""
    x, y = tuning
    table, chosen, best, scores = tune(
        Tuning(x.astype(np.float32), y.astype(np.float32), reg, protocol, compute_params), label
    )
    per_seed = refit(
        chosen, draws, seeds, test, compute_params, protocol, f"{label} refit", keep_points
    )
    point_columns = ["method", "replicate", "test_points"]
    points = per_seed[point_columns] if keep_points else pd.DataFrame(columns=point_columns)
    summary = pd.DataFrame(
        [
            {
                "method": m,
                "value": s.value,
                "epochs": s.epochs,
                "best_non_noise": m == best,
                "cv_correct": scores[m][0],
                "cv_loss": scores[m][1],
            }
            for m, s in chosen.items()
        ]
    )
    return Comparison(table, summary, per_seed.drop(columns="test_points", errors="ignore"), points)


def run_study(params: Params, reference: Split) -> Comparison:
    """Return the comparison on the reference split and on each listed benefit-map dataset.

    Reference: tuned by CV on its 30 training points, refit over the variants' replicate
    seeds (so the unregularized refit is the baseline variant) with the `train` protocol.
    Each other dataset: tuned by CV on one tuning draw of `n_train` points (its own seed),
    refit on the benefit map's fresh draws of that size with the map's seeds, protocol and
    test set, so "none" there is the map's no-noise model whenever n_train is a map size.
    """
    reg, bm = params.regularizers, params.benefit_map
    width = params.variants["baseline"].net.hidden_units[0]
    full_batch = max(params.train.batch_size, len(reference.y_train))
    reference_protocol = Protocol(
        width, params.train.model_copy(update={"batch_size": full_batch, "shuffle": False})
    )
    seeds = [fixed_split_seeds(params.train.seed, r) for r in range(params.train.replicates)]
    parts = {
        "reference": compare(
            (reference.x_train, reference.y_train),
            [(reference.x_train, reference.y_train)] * len(seeds),
            seeds,
            (reference.x_test, reference.y_test),
            reg,
            reference_protocol,
            params.compute,
            "regularizers@reference",
            keep_points=True,
        )
    }
    map_protocol = Protocol(bm.hidden_units, fresh_draw_optimization(params, reg.n_train))
    for name in reg.datasets:
        tuning = generate(params.datasets, name, reg.n_train, derive_seed(reg.seed, reg.n_train))
        draws = training_draws(params, name, reg.n_train)[: reg.replicates]
        test = generate(params.datasets, name, bm.test_points, test_seed(bm.seed))
        map_seeds = [fresh_draw_seeds(bm.seed, r) for r in range(len(draws))]
        parts[name] = compare(
            tuning,
            draws,
            map_seeds,
            test,
            reg,
            map_protocol,
            params.compute,
            f"regularizers@{name}",
        )
    return Comparison(
        *(
            pd.concat(
                [
                    getattr(c, field).assign(dataset=name)
                    for name, c in parts.items()
                    if not getattr(c, field).empty  # only the fixed split records its points
                ],
                ignore_index=True,
            )
            for field in ("cv", "chosen", "per_seed", "test_points")
        )
    )
