"""A missing, truncated or corrupt model, metrics or results file stops the reader with an
error naming the file and the stage that writes it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from noisereg.data.reference import Split
from noisereg.engine import keras_export as models
from noisereg.engine.randomness import glorot_uniform_mlp
from noisereg.experiments.reference import outputs
from noisereg.experiments.reference.run import ReplicateRun
from noisereg.io import InputError
from noisereg.params import Params
from tests.conftest import ROOT, assert_same_weights, one_error_line, run_stage_in
from tests.per_point import per_seed_frame

PER_SEED = per_seed_frame(
    [42, 43, 41], train_correct=[30, 29, 30], test_loss=[0.9, 0.8, 1.0]
).assign(init_seed=[11, 12, 13])


@pytest.fixture
def written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_params: Params, split: Split
) -> Path:
    """A working directory holding train@deep_baseline's outputs for three tiny nets."""
    monkeypatch.chdir(tmp_path)
    variant = default_params.variants["deep_baseline"]
    history = pd.DataFrame({c: [0.5, 0.4] for c in outputs.HISTORY_COLUMNS} | {"epoch": [10, 20]})
    weights = [glorot_uniform_mlp(s, variant.net.hidden_units) for s in range(3)]
    run = ReplicateRun(PER_SEED, history, weights)
    models.write_model_dir(outputs.model_dir("deep_baseline"), variant.net, weights)
    outputs.write_variant("deep_baseline", run, split)
    return tmp_path


def test_outputs_read_back_exactly(written: Path) -> None:
    weights = outputs.read_weights("deep_baseline")
    assert [k.shape for k in weights[1].kernels] == [(2, 100), (100, 100), (100, 100), (100, 1)]
    expected = glorot_uniform_mlp(1, (100, 100, 100))
    assert_same_weights(weights[1:2], [expected])
    pd.testing.assert_frame_equal(outputs.read_replicates("deep_baseline"), PER_SEED)


def corrupt(path: Path, how: str) -> None:
    if how == "truncated":
        data = path.read_bytes()
        # Cut inside a record (at half, the per-seed file ends exactly after its first row:
        # a valid shorter file, which only the summarize stage can tell from a complete one).
        path.write_bytes(data[: len(data) * 3 // 5])
    elif how == "garbage":
        path.write_bytes(b"\x00\xffnot what this file should hold")
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["missing", "truncated", "garbage"])
@pytest.mark.parametrize(
    ("path", "read"),
    [
        ("models/deep_baseline/weights.npz", lambda: outputs.read_weights("deep_baseline")),
        ("plots/replicates/deep_baseline.csv", lambda: outputs.read_replicates("deep_baseline")),
        ("plots/history/deep_baseline.csv", lambda: outputs.read_history("deep_baseline")),
    ],
    ids=["weights", "replicates", "history"],
)
def test_bad_file_names_itself_and_its_stage(
    written: Path, path: str, read: object, how: str
) -> None:
    corrupt(written / path, how)
    with pytest.raises(InputError) as error:
        read()  # type: ignore[operator]
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(path) and "'train@deep_baseline'" in message
    assert ("missing" if how == "missing" else "unreadable or corrupt") in message


def summarize_stage(tmp_path: Path, names: list[str], broken: str) -> subprocess.CompletedProcess:
    """Run the summarize stage in tmp_path over valid per-seed files but one `broken` text."""
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    directory = tmp_path / "plots" / "replicates"
    directory.mkdir(parents=True)
    for name in names:
        PER_SEED.to_csv(directory / f"{name}.csv", index=False)
    PER_SEED.assign(choice="best").to_csv(tmp_path / "plots" / "grid_refits.csv", index=False)
    sweep = PER_SEED.assign(placement="input", stddev=0.3)
    sweep.to_csv(tmp_path / "plots" / "sweep_replicates.csv", index=False)
    (directory / "hidden_noise.csv").write_text(broken)
    return run_stage_in(tmp_path, "stages.summarize")


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("replicate,init_seed\n0,", "plots/replicates/hidden_noise.csv: unreadable or corrupt"),
        # cut at a row boundary: a valid CSV with fewer seeds than its reference
        (PER_SEED.iloc[:2].to_csv(index=False), "plots/replicates/hidden_noise.csv: 2 replicates"),
    ],
    ids=["mid-row", "row-boundary"],
)
def test_summarize_stage_exits_2_on_a_corrupt_replicates_file(
    tmp_path: Path, default_params: Params, broken: str, expected: str
) -> None:
    result = summarize_stage(tmp_path, list(default_params.variants), broken)
    assert result.returncode == 2, result.stderr
    error = one_error_line(result)
    assert expected in error and "'train@hidden_noise'" in error
    assert not (tmp_path / "metrics").exists()
