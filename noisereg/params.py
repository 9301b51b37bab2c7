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

from noisereg.net import Net

PLACEMENTS = ("input", "hidden", "both")
DATASETS = ("reference", "large")
BACKENDS = ("local", "dask")
_SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$")
MAX_DEPTH = 10
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class ParamsError(ValueError):
    """A params.yaml value is missing, malformed or out of range."""


@dataclass(frozen=True)
class DataParams:
    """The `data` section: make_circles settings, the split, and the large dataset's size."""

    n_samples: int
    noise: float
    random_state: int
    test_size: float
    split_random_state: int
    large_n_samples: int


@dataclass(frozen=True)
class Optimization:
    """Adam and loop settings: what the engine needs to train any set of models."""

    epochs: int
    batch_size: int
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    log_every: int
    shuffle: bool


@dataclass(frozen=True)
class TrainParams(Optimization):
    """The `train` section: the optimization settings plus the replicate seeds."""

    replicates: int
    seed: int
    replication_seed: int | None  # a second, independent seed set (None: off)


@dataclass(frozen=True)
class VariantParams:
    """One variant: its net and training noise, dataset, and its comparison reference.

    `compare_to` is None for a variant that is itself a reference (baseline and the
    noiseless nets of other settings).
    """

    net: Net
    dataset: str
    compare_to: str | None


@dataclass(frozen=True)
class GridParams:
    """The `grid` section: widths x hidden-noise stddevs and the repeated CV."""

    hidden_units: tuple[int, ...]
    stddevs: tuple[float, ...]
    cv_folds: int
    cv_repeats: int
    seed: int


@dataclass(frozen=True)
class SweepParams:
    """The `sweep` section: noise stddevs per placement at one hidden width."""

    hidden_units: int
    stddevs: tuple[float, ...]
    placements: tuple[str, ...]


@dataclass(frozen=True)
class ComputeParams:
    """The `compute` section: where training runs and how many models one graph holds."""

    backend: str
    scheduler: str
    n_workers: int
    chunk_models: int
    connect_timeout_s: float


@dataclass(frozen=True)
class ReportParams:
    """The `report` section: title, decision-map resolution, and how results are summarized."""

    title: str
    heatmap_resolution: int
    confidence: float
    equivalence_margin: float
    bootstrap_resamples: int
    bootstrap_seed: int


@dataclass(frozen=True)
class Params:
    """Every validated section of params.yaml."""

    data: DataParams
    train: TrainParams
    variants: dict[str, VariantParams]
    grid: GridParams
    sweep: SweepParams
    compute: ComputeParams
    report: ReportParams

    @property
    def n_train(self) -> int:
        """Return the number of training points the split leaves (sklearn rounds test up)."""
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


def _scheduler(value: Any) -> str | None:
    ok = value == "local" or (isinstance(value, str) and bool(_SCHEDULER_ADDRESS.match(value)))
    return None if ok else "'local' or a Dask scheduler address such as tcp://10.0.0.5:8786"


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


def _or_null(rule: Rule) -> Rule:
    def check(value: Any) -> str | None:
        return None if value is None or rule(value) is None else f"{rule(None)}, or null"

    return check


def _one_of(choices: tuple[str, ...]) -> Rule:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(choices)

    return check


# Keras GaussianNoise accepts stddev in [0, 1]; every variant must export to Keras.
STDDEV = _number(0.0, 1.0)
SCHEMA: dict[str, dict[str, Rule]] = {
    "data": {
        "n_samples": _integer(10, 1_000_000),
        "noise": _number(0.0, 10.0),
        "random_state": _integer(0, 2**31 - 1),
        "test_size": _number(0.0, 1.0, low_open=True, high_open=True),
        "split_random_state": _integer(0, 2**31 - 1),
        "large_n_samples": _integer(10, 1_000_000),
    },
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
        "replication_seed": _or_null(_integer(0, 2**31 - 1)),
        "log_every": _integer(1),
    },
    "grid": {
        "hidden_units": _list_of(_integer(1, 100_000)),
        "stddevs": _list_of(STDDEV),
        "cv_folds": _integer(2, 1000),
        "cv_repeats": _integer(1, 1000),
        "seed": _integer(0, 2**31 - 1),
    },
    "sweep": {
        "hidden_units": _integer(1, 100_000),
        "stddevs": _list_of(_number(0.0, 1.0, low_open=True)),
        "placements": _list_of(_one_of(PLACEMENTS)),
    },
    "compute": {
        "backend": _one_of(BACKENDS),
        "scheduler": _scheduler,
        "n_workers": _integer(1, 1024),
        "chunk_models": _integer(1, 100_000),
        "connect_timeout_s": _number(0.0, 600.0, low_open=True),
    },
    "report": {
        "title": _text,
        "heatmap_resolution": _integer(10, 2000),
        "confidence": _number(0.5, 1.0, low_open=True, high_open=True),
        "equivalence_margin": _number(0.0, 1.0, high_open=True),
        "bootstrap_resamples": _integer(100, 1_000_000),
        "bootstrap_seed": _integer(0, 2**31 - 1),
    },
}
SECTIONS = ("data", "train", "variants", "grid", "sweep", "compute", "report")

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


def _per_layer(rule: Rule) -> Rule:
    """Accept one value for every hidden layer or a list with one value per layer."""

    def check(value: Any) -> str | None:
        allowed = f"{rule(None)}, or a list of those with one value per hidden layer"
        if isinstance(value, list):
            ok = bool(value) and all(rule(v) is None for v in value)
            return None if ok else allowed
        return None if rule(value) is None else allowed

    return check


def _width_list(value: Any) -> str | None:
    width = _integer(1, 100_000)
    allowed = f"{width(None)}, or a list of 1 to {MAX_DEPTH} of those (one per hidden layer)"
    if isinstance(value, list):
        ok = 0 < len(value) <= MAX_DEPTH and all(width(v) is None for v in value)
        return None if ok else allowed
    return None if width(value) is None else allowed


def _variant_name_or_null(value: Any) -> str | None:
    ok = value is None or (isinstance(value, str) and bool(_VARIANT_NAME.match(value)))
    return None if ok else "a variant name or null"


# Variant keys and their defaults; REQUIRED keys must be given (DVC's `${item.<key>}` reads
# hidden_units and dataset from params.yaml itself, so no default may hide them).
REQUIRED = object()
VARIANT_SCHEMA: dict[str, tuple[Rule, Any]] = {
    "hidden_units": (_width_list, REQUIRED),
    "input_stddev": (STDDEV, 0.0),
    "hidden_stddev": (_per_layer(STDDEV), 0.0),
    "post_activation_stddev": (_per_layer(STDDEV), 0.0),
    "dropout_rate": (_per_layer(_number(0.0, 1.0, high_open=True)), 0.0),
    "weight_stddev": (STDDEV, 0.0),
    "logit_stddev": (STDDEV, 0.0),
    "dataset": (_one_of(DATASETS), REQUIRED),
    "compare_to": (_variant_name_or_null, None),
}


def _variant(raw: Any, name: str) -> VariantParams:
    path = f"variants.{name}"
    if not isinstance(raw, Mapping):
        raise ParamsError(
            f"params: '{path}' must be a mapping with keys from {', '.join(VARIANT_SCHEMA)}"
        )
    for key in raw:
        if key not in VARIANT_SCHEMA:
            raise _unknown_key(f"{path}.", str(key), list(VARIANT_SCHEMA))
    values: dict[str, Any] = {}
    for key, (rule, default) in VARIANT_SCHEMA.items():
        if default is REQUIRED and key not in raw:
            raise ParamsError(f"params: missing key '{path}.{key}' (expected {rule(None)})")
        value = raw.get(key, default)
        if key in raw and (problem := rule(value)) is not None:
            raise ParamsError(f"params: '{path}.{key}' must be {problem}, got {value!r}")
        values[key] = value
    units = values.pop("hidden_units")
    hidden_units = tuple(units) if isinstance(units, list) else (units,)
    depth = len(hidden_units)
    for key in ("hidden_stddev", "post_activation_stddev", "dropout_rate"):
        value = values[key]
        if isinstance(value, list) and len(value) != depth:
            raise ParamsError(
                f"params: '{path}.{key}' must have one value per hidden layer ({depth}), "
                f"got {value!r}"
            )
    compare_to = values.pop("compare_to")
    if "compare_to" not in raw and name != "baseline":
        compare_to = "baseline"
    dataset = values.pop("dataset")
    # Net.of expands one number to every layer and makes every setting a float.
    return VariantParams(Net.of(hidden_units, **values), dataset, compare_to)


def _variants(raw: Any) -> dict[str, VariantParams]:
    """Parse `variants`, then check every variant's comparison reference."""
    if not isinstance(raw, Mapping) or not raw:
        raise ParamsError("params: 'variants' must be a non-empty mapping of name -> settings")
    if "baseline" not in raw:
        raise ParamsError("params: 'variants' must include 'baseline' (the comparison reference)")
    variants = {}
    for name, settings in raw.items():
        if not isinstance(name, str) or not _VARIANT_NAME.match(name):
            raise ParamsError(
                f"params: variant name {name!r} must use only letters, digits and '_'"
            )
        variants[name] = _variant(settings, name)
    baseline = variants["baseline"]
    if (
        not baseline.net.noiseless
        or baseline.dataset != "reference"
        or baseline.compare_to is not None
    ):
        raise ParamsError(
            "params: 'variants.baseline' must be the reference net without noise: no noise "
            "keys above 0, dataset 'reference', no compare_to"
        )
    for name, variant in variants.items():
        target = variant.compare_to
        if target is None:
            continue
        key = f"variants.{name}.compare_to"
        if target == name or target not in variants:
            others = [n for n in variants if n != name]
            raise ParamsError(
                f"params: '{key}' must name another variant or be null; allowed: "
                f"{', '.join(others)}, null; got {target!r}"
            )
        reference = variants[target]
        setting, wanted = (
            (list(reference.net.hidden_units), reference.dataset),
            (list(variant.net.hidden_units), variant.dataset),
        )
        if setting != wanted:
            raise ParamsError(
                f"params: '{key}' must name a variant with the same hidden_units and dataset "
                f"(paired by seed), got '{target}' {setting} for {wanted}"
            )
    return variants


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
    params = Params(
        data=_section(raw["data"], "data", SCHEMA["data"], DataParams),
        train=_section(raw["train"], "train", SCHEMA["train"], TrainParams),
        variants=_variants(raw["variants"]),
        grid=_section(raw["grid"], "grid", SCHEMA["grid"], GridParams),
        sweep=_section(raw["sweep"], "sweep", SCHEMA["sweep"], SweepParams),
        compute=_section(raw["compute"], "compute", SCHEMA["compute"], ComputeParams),
        report=_section(raw["report"], "report", SCHEMA["report"], ReportParams),
    )
    n_train, n_test = params.n_train, params.data.n_samples - params.n_train
    if n_train < 2 or n_test < 1:
        raise ParamsError(
            f"params: 'data.test_size' {params.data.test_size} leaves {n_train} training and "
            f"{n_test} test points; need >= 2 and >= 1"
        )
    large_train = params.data.large_n_samples - math.ceil(
        params.data.test_size * params.data.large_n_samples
    )
    if large_train < 2 or params.data.large_n_samples - large_train < 1:
        raise ParamsError(
            f"params: 'data.large_n_samples' {params.data.large_n_samples} leaves {large_train} "
            "training points at this test_size; need >= 2 training and >= 1 test point"
        )
    if params.grid.cv_folds > n_train // 2:
        raise ParamsError(
            f"params: 'grid.cv_folds' must be <= {n_train // 2} (each class of the {n_train} "
            f"training points needs one point per fold), got {params.grid.cv_folds}"
        )
    return params


# The params the report stage declares in dvc.yaml, and so the only ones it may print
# (compute.backend/scheduler/n_workers change where training runs, never what it gives).
REPORT_SECTIONS = {
    "data": None,
    "train": None,
    "variants": None,
    "grid": None,
    "sweep": None,
    "compute": ("chunk_models",),
    "report": None,
}


def read_raw_params(path: str | Path = "params.yaml") -> Any:
    """Return params.yaml parsed but not validated; ParamsError names the file on failure."""
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
    return raw


def load_params(path: str | Path = "params.yaml") -> Params:
    """Return validated Params from a file; ParamsError names the file or key on failure."""
    return parse_params(read_raw_params(path))
