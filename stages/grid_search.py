"""DVC stage `grid_search`: repeated stratified CV over width x hidden noise, then refit."""

from noisereg.cli import run_stage
from noisereg.data.reference import dataset_dir, load_split
from noisereg.experiments.reference import outputs
from noisereg.experiments.reference.run import run_grid
from noisereg.params import load_params


def main() -> None:
    params = load_params()
    outputs.write_grid(run_grid(load_split(dataset_dir("reference")), params))


if __name__ == "__main__":
    run_stage("grid_search", main)
