"""DVC stage `data`: draw make_circles and write each dataset's split (data/, data/large/)."""

from noisereg.cli import run_stage
from noisereg.data.reference import dataset_dir, make_split, save_split
from noisereg.params import DATASETS, load_params


def main() -> None:
    params = load_params()
    for dataset in DATASETS:
        train, test = make_split(params.data, dataset)
        directory = dataset_dir(dataset)
        save_split(train, test, directory)
        print(f"data: {dataset}: {len(train)} train / {len(test)} test points in {directory}/")


if __name__ == "__main__":
    run_stage("data", main)
