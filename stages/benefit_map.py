"""DVC stage `benefit_map@<dataset>`: noise vs no noise over training sizes, fresh draw per seed."""

import argparse

from noisereg.cli import run_stage
from noisereg.experiments.benefit_map.outputs import write_dataset
from noisereg.experiments.benefit_map.run import run_dataset
from noisereg.params import ParamsError, load_params


def main(name: str) -> None:
    params = load_params()
    if name not in params.benefit_map.datasets:
        allowed = ", ".join(params.benefit_map.datasets)
        raise ParamsError(
            f"params: unknown dataset '{name}' in benefit_map.datasets; allowed: {allowed}"
        )
    write_dataset(name, run_dataset(params, name))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help="a name in benefit_map.datasets")
    dataset = parser.parse_args().dataset
    run_stage(f"benefit_map@{dataset}", lambda: main(dataset))
