"""DVC stage `regularizers`: noise against weight decay, dropout and early stopping, tuned alike."""

from noisereg import outputs
from noisereg.cli import run_stage
from noisereg.data import dataset_dir, load_split
from noisereg.params import load_params
from noisereg.regularizers import run_study


def main() -> None:
    params = load_params()
    outputs.write_regularizers(run_study(params, load_split(dataset_dir("reference"))))


if __name__ == "__main__":
    run_stage("regularizers", main)
