"""Every bad params.yaml value stops the stage with a one-line error and writes nothing."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from noisereg.params import ParamsError, load_params, parse_params
from tests.conftest import ROOT, one_error_line, run_stage_in

Edit = Callable[[dict[str, Any]], None]


def setter(section: str, key: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw[section][key] = value

    return edit


def variant_setter(key: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw["variants"]["input_noise"][key] = value

    return edit


def delete(section: str, key: str) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        del raw[section][key]

    return edit


# (case id, edit, fragments the one-line message must contain)
CASES: list[tuple[str, Edit, list[str]]] = [
    (
        "negative stddev",
        variant_setter("input_stddev", -0.1),
        ["variants.input_noise.input_stddev", "[0.0, 1.0]"],
    ),
    (
        "non-numeric stddev",
        variant_setter("hidden_stddev", "lots"),
        ["variants.input_noise.hidden_stddev", "'lots'"],
    ),
    (
        "zero hidden units",
        setter("sweep", "hidden_units", 0),
        ["sweep.hidden_units", "integer >= 1"],
    ),
    (
        "fractional hidden units",
        setter("sweep", "hidden_units", 2.5),
        ["sweep.hidden_units", "integer"],
    ),
    ("zero epochs", setter("train", "epochs", 0), ["train.epochs", "integer >= 1"]),
    ("negative epochs", setter("train", "epochs", -5), ["train.epochs", "-5"]),
    ("test_size one", setter("data", "test_size", 1.0), ["data.test_size", "(0.0, 1.0)"]),
    ("test_size zero", setter("data", "test_size", 0), ["data.test_size", "(0.0, 1.0)"]),
    ("more folds than points", setter("grid", "cv_folds", 20), ["grid.cv_folds", "<= 15"]),
    (
        "empty grid widths",
        setter("grid", "hidden_units", []),
        ["grid.hidden_units", "non-empty list"],
    ),
    ("empty grid noise", setter("grid", "stddevs", []), ["grid.stddevs", "non-empty list"]),
    (
        "unknown placement",
        setter("sweep", "placements", ["input", "output"]),
        ["sweep.placements", "input, hidden, both"],
    ),
    (
        "unknown key with hint",
        setter("train", "epoch", 10),
        ["train.epoch", "did you mean 'epochs'"],
    ),
    (
        "unknown variant key",
        variant_setter("hiden_stddev", 0.1),
        ["hiden_stddev", "did you mean 'hidden_stddev'"],
    ),
    ("missing key", delete("train", "seed"), ["missing key 'train.seed'"]),
    ("zero replicates", setter("train", "replicates", 0), ["train.replicates", "integer >= 1"]),
    ("boolean as number", setter("train", "learning_rate", True), ["train.learning_rate"]),
    ("beta outside [0, 1)", setter("train", "beta_2", 1.0), ["train.beta_2", "[0.0, 1.0)"]),
    (
        "repeated grid value",
        setter("grid", "hidden_units", [50, 50]),
        ["grid.hidden_units", "without repeated"],
    ),
    ("confidence 1", setter("report", "confidence", 1.0), ["report.confidence"]),
    (
        "negative equivalence margin",
        setter("report", "equivalence_margin", -0.01),
        ["report.equivalence_margin", "[0.0, 1.0)", "-0.01"],
    ),
    (
        "too few bootstrap resamples",
        setter("report", "bootstrap_resamples", 10),
        ["report.bootstrap_resamples", "integer >= 100"],
    ),
    (
        "replication seed not an integer",
        setter("train", "replication_seed", "yes"),
        ["train.replication_seed", "integer >= 0", "or null"],
    ),
    (
        "variant without a width",
        lambda raw: raw["variants"]["input_noise"].pop("hidden_units"),
        ["missing key 'variants.input_noise.hidden_units'"],
    ),
    (
        "variant without a dataset",
        lambda raw: raw["variants"]["input_noise"].pop("dataset"),
        ["missing key 'variants.input_noise.dataset'", "one of reference, large"],
    ),
    (
        "bad variant name",
        lambda raw: raw["variants"].update(
            {"bad name!": {"input_stddev": 0.0, "hidden_stddev": 0.0}}
        ),
        ["bad name!", "letters, digits"],
    ),
    (
        "noisy baseline",
        lambda raw: raw["variants"]["baseline"].update(input_stddev=0.1),
        ["variants.baseline"],
    ),
    ("unknown section", lambda raw: raw.update(sweeep={}), ["sweeep", "did you mean 'sweep'"]),
    (
        "stddev above Keras' limit",
        variant_setter("weight_stddev", 1.5),
        ["variants.input_noise.weight_stddev", "[0.0, 1.0]", "1.5"],
    ),
    (
        "negative weight decay",
        variant_setter("l2", -1e-4),
        ["variants.input_noise.l2", "[0.0, 1.0]", "-0.0001"],
    ),
    (
        "weight decay on the baseline",
        lambda raw: raw["variants"]["baseline"].update(l2=1e-4),
        ["variants.baseline", "weight decay"],
    ),
    (
        "dropout rate 1",
        variant_setter("dropout_rate", 1.0),
        ["variants.input_noise.dropout_rate", "[0.0, 1.0)"],
    ),
    (
        "per-layer list of the wrong length",
        lambda raw: raw["variants"]["deep_hidden_all"].update(hidden_stddev=[0.1, 0.1]),
        ["variants.deep_hidden_all.hidden_stddev", "one value per hidden layer (3)"],
    ),
    (
        "zero width in a layer list",
        variant_setter("hidden_units", [100, 0]),
        ["variants.input_noise.hidden_units", "list of 1 to 10"],
    ),
    (
        "unknown dataset",
        variant_setter("dataset", "huge"),
        ["variants.input_noise.dataset", "reference, large"],
    ),
    (
        "compare_to an unknown variant",
        variant_setter("compare_to", "nosuch"),
        ["variants.input_noise.compare_to", "baseline", "'nosuch'"],
    ),
    (
        "compare_to a different architecture",
        lambda raw: raw["variants"]["deep_hidden_all"].update(compare_to="baseline"),
        ["variants.deep_hidden_all.compare_to", "same hidden_units and dataset"],
    ),
    ("unknown backend", setter("compute", "backend", "spark"), ["compute.backend", "local, dask"]),
    (
        "scheduler that is no address",
        setter("compute", "scheduler", "my-cluster"),
        ["compute.scheduler", "tcp://"],
    ),
    ("zero workers", setter("compute", "n_workers", 0), ["compute.n_workers", "integer >= 1"]),
    (
        "large dataset too small",
        setter("data", "large_n_samples", 2),
        ["data.large_n_samples", "integer >= 10"],
    ),
    (
        "unknown map dataset",
        setter("benefit_map", "datasets", ["circles", "checkers"]),
        ["benefit_map.datasets", "circles, moons, xor, spirals, blobs", "checkers"],
    ),
    ("zero map size", setter("benefit_map", "sizes", [0, 30]), ["benefit_map.sizes", ">= 2"]),
    (
        "map size beyond the generator's limit",
        setter("benefit_map", "sizes", [30, 200_000]),
        ["benefit_map.sizes", "<= 100000"],
    ),
    (
        "map size that leaves a fold class empty",
        setter("benefit_map", "sizes", [4, 30]),
        ["benefit_map.sizes", "must each be >= 6", "[4, 30]"],
    ),
    (
        "cv placement not mapped",
        setter("benefit_map", "cv_placement", "both"),
        ["benefit_map.cv_placement", "input, hidden", "'both'"],
    ),
    (
        "negative weight decay candidate",
        lambda raw: raw["regularizers"]["candidates"].update(l2=[-1e-4, 1e-3, 1e-2, 0.1, 0.2, 0.3]),
        ["regularizers.candidates.l2", "each a number > 0.0", "-0.0001"],
    ),
    (
        "dropout rate of 1",
        lambda raw: raw["regularizers"]["candidates"].update(
            bernoulli_dropout_rate=[0.1, 0.2, 0.3, 0.4, 0.5, 1.0]
        ),
        ["regularizers.candidates.bernoulli_dropout_rate", "must each be < 1"],
    ),
    (
        "unknown regularizer",
        lambda raw: raw["regularizers"]["candidates"].update(max_norm=[1, 2, 3, 4, 5, 6]),
        ["regularizers.candidates", "max_norm", "early_stopping"],
    ),
    (
        "unequal tuning budgets",
        lambda raw: raw["regularizers"]["candidates"].update(l2=[1e-4, 1e-3]),
        ["regularizers.candidates", "same number of candidates", "l2: 2"],
    ),
    (
        "variant dropout rate of 1",
        variant_setter("bernoulli_dropout_rate", 1.0),
        ["variants.input_noise.bernoulli_dropout_rate", "[0.0, 1.0)", "got 1.0"],
    ),
    (
        "negative circles factor",
        lambda raw: raw["datasets"]["circles"].update(factor=-0.5),
        ["datasets.circles.factor", "(0.0, 1.0)", "got -0.5"],
    ),
]


@pytest.mark.parametrize(("edit", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_value_is_rejected_with_key_and_allowed(
    default_raw: dict[str, Any], edit: Edit, fragments: list[str]
) -> None:
    raw = copy.deepcopy(default_raw)
    edit(raw)
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_defaults_are_valid_and_reproduce_the_reference(default_raw: dict[str, Any]) -> None:
    params = parse_params(default_raw)
    assert params.n_train == 30
    assert params.train.epochs == 5000 and params.train.learning_rate == 0.001
    assert params.train.batch_size >= params.n_train  # full-batch, as the reference
    assert params.grid.hidden_units == (50, 100, 300, 500)
    assert params.grid.stddevs == (0.001, 0.01, 0.1, 0.2, 0.7, 1.0)
    assert params.grid.cv_folds == 5
    both = params.variants["both_noise"]
    assert both.net.input_stddev == 0.1 and both.net.hidden_stddev == (0.1,)
    assert both.net.hidden_units == (400,) and both.compare_to == "baseline"
    assert params.variants["deep_hidden_first"].net.hidden_stddev == (0.1, 0.0, 0.0)
    assert params.variants["large_baseline"].compare_to is None


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match=r"params.yaml is not valid YAML"):
        load_params(path)


# Picked by name: one range error, one cross-field rule, one "did you mean" hint.
STAGE_CASES = ["zero epochs", "more folds than points", "unknown section"]


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [case[1:] for case in CASES if case[0] in STAGE_CASES],
    ids=STAGE_CASES,
)
def test_stage_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, default_raw: dict[str, Any], edit: Edit, fragments: list[str]
) -> None:
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    raw = copy.deepcopy(default_raw)
    edit(raw)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    result = run_stage_in(tmp_path, "stages.data")
    assert result.returncode == 2
    error = one_error_line(result)
    assert all(f in error for f in fragments)
    assert not (tmp_path / "data").exists()


@pytest.mark.slow  # stage processes (> 10 s)
def test_unknown_variant_and_missing_data(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    result = run_stage_in(tmp_path, "stages.train", "--variant", "output_noise")
    assert result.returncode == 2
    assert "unknown variant 'output_noise'; allowed: baseline, input_noise" in result.stderr
    result = run_stage_in(tmp_path, "stages.train", "--variant", "baseline")
    assert result.returncode == 2
    assert "data/reference/train.csv: missing; it is written by the 'data' stage" in result.stderr
    assert not (tmp_path / "models").exists() and not (tmp_path / "metrics").exists()
