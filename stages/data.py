"""DVC stage `data`: draw make_circles and write the reference's 30/70 split to data/."""

from pathlib import Path

from noisereg.cli import run_stage
from noisereg.data import make_split, save_split
from noisereg.params import load_params


def main() -> None:
    params = load_params()
    train, test = make_split(params.data)
    save_split(train, test, Path("data"))
    print(f"data: {len(train)} train / {len(test)} test points written to data/")


if __name__ == "__main__":
    run_stage("data", main)
