"""`dvc exp run -S key=value` changes only that key's line of params.yaml (#45).

DVC applies -S with Hydra's override grammar and writes the whole file back with ruamel.yaml:
`dvc exp run` groups the -S values by file (`dvc.utils.cli_parse.to_path_overrides`) and the
experiment queue's `_update_params` calls `dvc.utils.hydra.apply_overrides` on each (Hydra
composition is off in .dvc/config). That writer replaces every list with a plain one, so lists
come back in block style, null as an empty value, strings unquoted, and a comment after a
list's last item is dropped (treeverse/dvc#8720; hence `sweep` ends with a number, so the
comment above `datasets` stays). params.yaml is kept in that form: these tests run DVC's own
writer on a copy and read the diff.
"""

from __future__ import annotations

import copy
import difflib
import shutil
from pathlib import Path
from typing import Any

import pytest
from dvc.utils.cli_parse import to_path_overrides
from dvc.utils.hydra import apply_overrides

from noisereg.params import read_raw_params
from tests.tiny_pipeline import ROOT, dvc, sh

PARAMS = ROOT / "params.yaml"


def set_params(repo: Path, *set_params: str) -> None:
    """Apply `dvc exp run -S` values to the params files in repo, as DVC does before a run."""
    for path, overrides in to_path_overrides(set_params).items():
        apply_overrides(repo / path, overrides)


def changed_lines(before: str, after: str) -> list[str]:
    """Return the unified diff's - and + lines (no headers, no context)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in list(diff)[2:] if not line.startswith("@@")]


def mark(lines: tuple[str, str]) -> list[str]:
    return [f"-{lines[0]}", f"+{lines[1]}"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    return tmp_path


def test_dvcs_writer_leaves_params_yaml_byte_identical(repo: Path) -> None:
    set_params(repo, "train.epochs=5000")  # -S with the value it already has
    assert (repo / "params.yaml").read_bytes() == PARAMS.read_bytes()
    apply_overrides(repo / "params.yaml", [])  # the bare load-and-dump
    assert (repo / "params.yaml").read_bytes() == PARAMS.read_bytes()


# -S value -> (the line before, the line after): one of each type and depth DVC can set.
ONE_LINE_EDITS = {
    "train.epochs=4000": (
        "  epochs: 5000            # full passes over the training set",
        "  epochs: 4000            # full passes over the training set",
    ),
    "train.learning_rate=0.003": (
        "  learning_rate: 0.001    # Adam step size",
        "  learning_rate: 0.003    # Adam step size",
    ),
    "train.replication_seed=7": (
        "  replication_seed:       # second seed set that checks each verdict "
        "(null: off; on doubles each train@ stage)",
        "  replication_seed: 7     # second seed set that checks each verdict "
        "(null: off; on doubles each train@ stage)",
    ),
    "train.shuffle=false": (
        "  shuffle: true           # reshuffle minibatches every epoch "
        "(no effect in full-batch mode)",
        "  shuffle: false          # reshuffle minibatches every epoch "
        "(no effect in full-batch mode)",
    ),
    "compute.backend=dask": (
        "  backend: local          # local: the batched engine in this process; "
        "dask: tasks on a Dask cluster",
        "  backend: dask           # local: the batched engine in this process; "
        "dask: tasks on a Dask cluster",
    ),
    "variants.input_noise.input_stddev=0.2": ("    input_stddev: 0.1", "    input_stddev: 0.2"),
    "variants.deep_hidden_first.compare_to=null": (
        "    compare_to: deep_baseline",
        "    compare_to:",
    ),
    "grid.hidden_units.1=120": ("  - 100", "  - 120"),  # one list item, by index
    "sweep.stddevs=[0.03,0.5,1.0]": ("  - 0.3", "  - 0.5"),  # a whole list, one item differs
    "variants.deep_hidden_first.hidden_stddev.1=0.05": ("    - 0.0", "    - 0.05"),
    "report.title='Does noise help?'": (
        "  title: Does Gaussian noise reduce overfitting?  # report heading",
        "  title: Does noise help?                         # report heading",
    ),
    "train.epsilon=2e-7": (
        "  epsilon: 1.0e-7         # Adam denominator epsilon (Keras default 1e-7)",
        "  epsilon: 2e-07          # Adam denominator epsilon (Keras default 1e-7)",
    ),
}


@pytest.mark.parametrize(("set_param", "lines"), ONE_LINE_EDITS.items(), ids=list(ONE_LINE_EDITS))
def test_one_set_param_changes_one_line(repo: Path, set_param: str, lines: tuple[str, str]) -> None:
    set_params(repo, set_param)
    assert changed_lines(PARAMS.read_text(), (repo / "params.yaml").read_text()) == mark(lines)


def test_several_set_params_change_their_lines_only(repo: Path) -> None:
    edits = ["train.epochs=4000", "train.replication_seed=7", "grid.hidden_units.1=120"]
    set_params(repo, *edits)
    changed = changed_lines(PARAMS.read_text(), (repo / "params.yaml").read_text())
    assert sorted(changed) == sorted(line for edit in edits for line in mark(ONE_LINE_EDITS[edit]))


@pytest.mark.parametrize(
    ("set_param", "value"),
    [
        ("train.replication_seed=7", 7),
        ("train.learning_rate=0.003", 0.003),
        ("variants.deep_hidden_first.compare_to=null", None),
        ("grid.hidden_units.1=120", 120),
        ("report.title='Does noise help?'", "Does noise help?"),
    ],
)
def test_the_project_reads_the_value_set_and_nothing_else(
    repo: Path, default_raw: dict[str, Any], set_param: str, value: Any
) -> None:
    set_params(repo, set_param)
    expected = copy.deepcopy(default_raw)
    *parents, last = set_param.partition("=")[0].split(".")
    node: Any = expected
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    assert read_raw_params(repo / "params.yaml") == expected


def test_an_exponent_float_set_with_s_reads_back_as_a_float(repo: Path) -> None:
    # DVC's writer (ruamel, YAML 1.2) writes 2e-07, which plain PyYAML (YAML 1.1) would read
    # as the string '2e-07'; read_raw_params reads floats as YAML 1.2 does.
    set_params(repo, "train.epsilon=2e-7")
    assert "  epsilon: 2e-07" in (repo / "params.yaml").read_text()
    assert read_raw_params(repo / "params.yaml")["train"]["epsilon"] == 2e-7


def test_dvc_exp_run_set_param_changes_one_line(tmp_path: Path) -> None:
    """The whole path: `dvc exp run -S` in a scratch repo whose stage reads params.yaml."""
    shutil.copy(PARAMS, tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  noop:\n    cmd: python -c pass\n    params:\n      - train.epochs\n"
    )
    sh(tmp_path, "git", "init", "-q", "-b", "main")
    sh(tmp_path, "git", "config", "user.email", "test@example.invalid")
    sh(tmp_path, "git", "config", "user.name", "test")
    dvc(tmp_path, "init", "-q")
    sh(tmp_path, "git", "add", "-A")
    sh(tmp_path, "git", "commit", "-q", "-m", "scratch")
    dvc(tmp_path, "exp", "run", "-S", "train.epochs=4000")
    assert changed_lines(PARAMS.read_text(), (tmp_path / "params.yaml").read_text()) == mark(
        ONE_LINE_EDITS["train.epochs=4000"]
    )
