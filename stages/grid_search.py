"""DVC stage `grid_search`: repeated stratified CV over width x hidden noise, then refit."""

from noisereg import outputs
from noisereg.cli import run_stage
from noisereg.data import dataset_dir, load_split
from noisereg.params import load_params
from noisereg.study import run_grid


def main() -> None:
    params = load_params()
    outputs.write_grid(run_grid(load_split(dataset_dir("reference")), params))


if __name__ == "__main__":
    run_stage("grid_search", main)
