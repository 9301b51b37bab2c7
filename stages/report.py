"""DVC stage `report`: read every tracked result and render reports/report.{html,md}."""

from pathlib import Path

from noisereg import outputs, provenance
from noisereg.cli import read_timings, run_stage
from noisereg.data import dataset_dir, load_split
from noisereg.io import read_csv, read_json
from noisereg.params import DATASETS, load_params
from noisereg.report import StudyResults, write_report


def main() -> None:
    params = load_params()
    names = list(params.variants)
    seeds = (
        f"data {params.data.random_state}, split {params.data.split_random_state}, "
        f"train {params.train.seed} ({params.train.replicates} replicates), grid {params.grid.seed}"
    )
    results = StudyResults(
        title=params.report.title,
        confidence=params.report.confidence,
        splits={dataset: load_split(dataset_dir(dataset)) for dataset in DATASETS},
        variants={name: outputs.read_metrics(name, f"train@{name}") for name in names},
        histories={name: outputs.read_history(name) for name in names},
        weights={name: outputs.read_weights(name) for name in names},
        comparisons=read_json(outputs.COMPARISONS_PATH, "compare"),
        grid=outputs.read_metrics("grid", "grid_search"),
        grid_cells=read_csv(Path("plots") / "grid.csv", "grid_search", outputs.GRID_COLUMNS),
        sweep=read_csv(Path("plots") / "sweep.csv", "sweep", outputs.SWEEP_COLUMNS),
        params_yaml=Path("params.yaml").read_text(),
        provenance=provenance.collect(seeds, read_timings()),
        heatmap_resolution=params.report.heatmap_resolution,
    )
    write_report(results, Path("reports"))


if __name__ == "__main__":
    run_stage("report", main)
