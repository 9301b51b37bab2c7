"""DVC stage `sweep`: test accuracy vs noise stddev for each placement at the model's width."""

from noisereg.cli import run_stage
from noisereg.data.reference import dataset_dir, load_split
from noisereg.experiments.reference import outputs
from noisereg.experiments.reference.run import run_sweep
from noisereg.params import load_params


def main() -> None:
    params = load_params()
    outputs.write_sweep(run_sweep(load_split(dataset_dir("reference")), params))


if __name__ == "__main__":
    run_stage("sweep", main)
