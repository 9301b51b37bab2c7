"""Load and validate params.yaml into frozen dataclasses, with one-line errors naming the key."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

PLACEMENTS = ("input", "hidden", "both")
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class ParamsError(ValueError):
    """A params.yaml value is missing, malformed or out of range."""


@dataclass(frozen=True)
class DataParams:
    n_samples: int
    noise: float
    random_state: int
    test_size: float
    split_random_state: int


@dataclass(frozen=True)
class ModelParams:
    hidden_units: int


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    batch_size: int
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    shuffle: bool
    replicates: int
    seed: int
    log_every: int
    max_models_per_graph: int


@dataclass(frozen=True)
class VariantParams:
    input_stddev: float
    hidden_stddev: float


@dataclass(frozen=True)
class GridParams:
    hidden_units: tuple[int, ...]
    stddevs: tuple[float, ...]
    cv_folds: int
    cv_repeats: int
    seed: int


@dataclass(frozen=True)
class SweepParams:
    stddevs: tuple[float, ...]
    placements: tuple[str, ...]


@dataclass(frozen=True)
class ReportParams:
    title: str
    heatmap_resolution: int
    confidence: float


@dataclass(frozen=True)
class Params:
    data: DataParams
    model: ModelParams
    train: TrainParams
    variants: dict[str, VariantParams]
    grid: GridParams
    sweep: SweepParams
    report: ReportParams

    @property
    def n_train(self) -> int:
        """Number of training points the split leaves (sklearn rounds the test size up)."""
        return self.data.n_samples - math.ceil(self.data.test_size * self.data.n_samples)


# A rule returns None when the value is acceptable, else the allowed range in words.
Rule = Callable[[Any], str | None]


def _integer(low: int, high: int | None = None) -> Rule:
    allowed = f"an integer >= {low}" + (f" and <= {high}" if high is not None else "")

    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
        return None if ok and (high is None or value <= high) else allowed

    return check


def _number(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    allowed = f"a number in {left}{low}, {high}{right}"

    def check(value: Any) -> str | None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return allowed
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return None if above and below else allowed

    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


def _list_of(rule: Rule) -> Rule:
    def check(value: Any) -> str | None:
        item_allowed = rule(None) or ""
        if not isinstance(value, list) or not value:
            return f"a non-empty list of {item_allowed}"
        if len(set(map(repr, value))) != len(value):
            return f"a list without repeated values, each {item_allowed}"
        bad = [item for item in value if rule(item) is not None]
        return f"a non-empty list, each {item_allowed}" if bad else None

    return check


def _one_of(choices: tuple[str, ...]) -> Rule:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(choices)

    return check


STDDEV = _number(0.0, 100.0)
SCHEMA: dict[str, dict[str, Rule]] = {
    "data": {
        "n_samples": _integer(10, 1_000_000),
        "noise": _number(0.0, 10.0),
        "random_state": _integer(0, 2**31 - 1),
        "test_size": _number(0.0, 1.0, low_open=True, high_open=True),
        "split_random_state": _integer(0, 2**31 - 1),
    },
    "model": {"hidden_units": _integer(1, 100_000)},
    "train": {
        "epochs": _integer(1, 10_000_000),
        "batch_size": _integer(1),
        "learning_rate": _number(0.0, 10.0, low_open=True),
        "beta_1": _number(0.0, 1.0, high_open=True),
        "beta_2": _number(0.0, 1.0, high_open=True),
        "epsilon": _number(0.0, 1.0, low_open=True),
        "shuffle": _boolean,
        "replicates": _integer(1, 10_000),
        "seed": _integer(0, 2**31 - 1),
        "log_every": _integer(1),
        "max_models_per_graph": _integer(1, 100_000),
    },
    "variant": {"input_stddev": STDDEV, "hidden_stddev": STDDEV},
    "grid": {
        "hidden_units": _list_of(_integer(1, 100_000)),
        "stddevs": _list_of(STDDEV),
        "cv_folds": _integer(2, 1000),
        "cv_repeats": _integer(1, 1000),
        "seed": _integer(0, 2**31 - 1),
    },
    "sweep": {
        "stddevs": _list_of(_number(0.0, 100.0, low_open=True)),
        "placements": _list_of(_one_of(PLACEMENTS)),
    },
    "report": {
        "title": _text,
        "heatmap_resolution": _integer(10, 2000),
        "confidence": _number(0.5, 1.0, low_open=True, high_open=True),
    },
}
SECTIONS = ("data", "model", "train", "variants", "grid", "sweep", "report")

T = TypeVar("T")


def _unknown_key(path: str, key: str, allowed: list[str]) -> ParamsError:
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
    return ParamsError(
        f"params: unknown key '{path}{key}'{suggestion}; allowed: {', '.join(allowed)}"
    )


def _section(raw: Any, path: str, rules: dict[str, Rule], cls: type[T]) -> T:
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params: '{path}' must be a mapping with keys {', '.join(rules)}")
    for key in raw:
        if key not in rules:
            raise _unknown_key(f"{path}.", str(key), list(rules))
    values: dict[str, Any] = {}
    for key, rule in rules.items():
        if key not in raw:
            raise ParamsError(f"params: missing key '{path}.{key}' (expected {rule(None)})")
        problem = rule(raw[key])
        if problem:
            raise ParamsError(f"params: '{path}.{key}' must be {problem}, got {raw[key]!r}")
        value = raw[key]
        values[key] = tuple(value) if isinstance(value, list) else value
    # Floats written as integers in YAML (e.g. `noise: 0`) are floats to the code.
    for field in fields(cls):  # type: ignore[arg-type]
        if field.type == "float":
            values[field.name] = float(values[field.name])
        elif field.type == "tuple[float, ...]":
            values[field.name] = tuple(float(v) for v in values[field.name])
    return cls(**values)


def parse_params(raw: Any) -> Params:
    """Return validated Params from the parsed YAML mapping, or raise ParamsError."""
    if not isinstance(raw, Mapping):
        raise ParamsError(
            "params: the file must hold a mapping of sections: " + ", ".join(SECTIONS)
        )
    for key in raw:
        if key not in SECTIONS:
            raise _unknown_key("", str(key), list(SECTIONS))
    for key in SECTIONS:
        if key not in raw:
            raise ParamsError(f"params: missing section '{key}'")
    raw_variants = raw["variants"]
    if not isinstance(raw_variants, Mapping) or not raw_variants:
        raise ParamsError(
            "params: 'variants' must be a non-empty mapping of name -> noise settings"
        )
    if "baseline" not in raw_variants:
        raise ParamsError("params: 'variants' must include 'baseline' (the comparison reference)")
    variants = {}
    for name, settings in raw_variants.items():
        if not isinstance(name, str) or not _VARIANT_NAME.match(name):
            raise ParamsError(
                f"params: variant name {name!r} must use only letters, digits and '_'"
            )
        variants[name] = _section(settings, f"variants.{name}", SCHEMA["variant"], VariantParams)
    if variants["baseline"] != VariantParams(0.0, 0.0):
        raise ParamsError(
            "params: 'variants.baseline' must have input_stddev 0 and hidden_stddev 0"
        )
    params = Params(
        data=_section(raw["data"], "data", SCHEMA["data"], DataParams),
        model=_section(raw["model"], "model", SCHEMA["model"], ModelParams),
        train=_section(raw["train"], "train", SCHEMA["train"], TrainParams),
        variants=variants,
        grid=_section(raw["grid"], "grid", SCHEMA["grid"], GridParams),
        sweep=_section(raw["sweep"], "sweep", SCHEMA["sweep"], SweepParams),
        report=_section(raw["report"], "report", SCHEMA["report"], ReportParams),
    )
    n_train, n_test = params.n_train, params.data.n_samples - params.n_train
    if n_train < 2 or n_test < 1:
        raise ParamsError(
            f"params: 'data.test_size' {params.data.test_size} leaves {n_train} training and "
            f"{n_test} test points; need >= 2 and >= 1"
        )
    if params.grid.cv_folds > n_train // 2:
        raise ParamsError(
            f"params: 'grid.cv_folds' must be <= {n_train // 2} (each class of the {n_train} "
            f"training points needs one point per fold), got {params.grid.cv_folds}"
        )
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file; raise ParamsError naming the file or key on failure."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ParamsError(f"params: cannot read {path}: {error.strerror}") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ParamsError(
            f"params: {path} is not valid YAML: {str(error).splitlines()[0]}"
        ) from error
    return parse_params(raw)
