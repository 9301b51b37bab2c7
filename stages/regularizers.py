"""DVC stage `regularizers`: noise against weight decay, dropout and early stopping, tuned alike."""

from noisereg.cli import run_stage
from noisereg.data.reference import dataset_dir, load_split
from noisereg.experiments.regularizers.outputs import write_comparison
from noisereg.experiments.regularizers.run import run_study
from noisereg.params import load_params


def main() -> None:
    params = load_params()
    write_comparison(run_study(params, load_split(dataset_dir("reference"))))


if __name__ == "__main__":
    run_stage("regularizers", main)
