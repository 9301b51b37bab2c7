"""docs/extending.md's recipes work as written: its params.yaml blocks, applied to the tiny
params, validate and their stages run (a variant, a benefit-map dataset, regularizer candidates).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from noisereg.params import ParamsError, parse_params
from tests.conftest import ROOT, run_stage_in, tiny_raw

EXTENDING = (ROOT / "docs" / "extending.md").read_text()


def recipe_yaml(heading: str) -> dict[str, Any]:
    """Return the first ```yaml block under a recipe's heading, parsed."""
    section = EXTENDING.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, f"docs/extending.md: no yaml block under '{heading}'"
    return yaml.safe_load(block.group(1))


def recipe_commands(heading: str) -> list[str]:
    """Return the `dvc repro <stage>` targets a recipe's ```sh block names."""
    section = EXTENDING.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"dvc repro (\S+)", section)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, default_raw: dict[str, Any]) -> Path:
    directory = tmp_path_factory.mktemp("recipes")
    (directory / "params.yaml").write_text(yaml.safe_dump(tiny_raw(default_raw)))
    assert run_stage_in(directory, "stages.data").returncode == 0
    return directory


def run_with(workdir: Path, raw: dict[str, Any], stage: str, *args: str) -> None:
    parse_params(raw)  # the edited params validate
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    result = run_stage_in(workdir, f"stages.{stage}", *args)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_add_a_variant(workdir: Path, default_raw: dict[str, Any]) -> None:
    raw = tiny_raw(default_raw)
    added = recipe_yaml("Add a variant")["variants"]
    (name,) = added
    assert recipe_commands("Add a variant")[0] == f"train@{name}"
    # The tiny study's baseline is narrower; the recipe pairs with it, so it takes its width.
    variant = {**added[name], "hidden_units": raw["variants"]["baseline"]["hidden_units"]}
    raw["variants"][name] = variant
    run_with(workdir, raw, "train", "--variant", name)
    assert (workdir / "plots" / "replicates" / f"{name}.csv").exists()
    assert (workdir / "models" / name / "weights.npz").exists()


@pytest.mark.slow
def test_add_a_dataset_to_the_benefit_map(workdir: Path, default_raw: dict[str, Any]) -> None:
    raw = tiny_raw(default_raw)
    datasets = recipe_yaml("Add a dataset")["benefit_map"]["datasets"]
    (stage,) = {c for c in recipe_commands("Add a dataset") if c.startswith("benefit_map@")}
    new = stage.split("@")[1]
    assert new in datasets
    raw["benefit_map"]["datasets"] = [d for d in raw["benefit_map"]["datasets"] if d != new]
    raw["benefit_map"]["datasets"].append(new)
    run_with(workdir, raw, "benefit_map", "--dataset", new)
    assert (workdir / "plots" / "benefit" / new / "replicates.csv").exists()


@pytest.mark.slow
def test_add_a_regularizer_candidate(workdir: Path, default_raw: dict[str, Any]) -> None:
    raw = tiny_raw(default_raw)
    candidates = recipe_yaml("Add a regularizer candidate")["regularizers"]["candidates"]
    # As the recipe says, unequal budgets are refused ...
    unequal = {**candidates, "l2": candidates["l2"][:-1]}
    raw["regularizers"]["candidates"] = unequal
    with pytest.raises(ParamsError, match=r"regularizers\.candidates"):
        parse_params(raw)
    # ... and the recipe's lists, one more candidate for every method, run. On the reference
    # split alone: every dataset tunes the same candidates, and the tiny params' fresh-draw
    # dataset (xor; the pipeline tests run it) would double the stage's time.
    raw["regularizers"].update(candidates=candidates, datasets=[])
    run_with(workdir, raw, "regularizers")
    chosen = (workdir / "plots" / "regularizers" / "chosen.csv").read_text()
    assert all(method in chosen for method in candidates)
