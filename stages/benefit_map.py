"""DVC stage `benefit_map@<dataset>`: noise vs no noise over training sizes, fresh draw per seed."""

import argparse

from noisereg import outputs
from noisereg.benefit import run_dataset
from noisereg.cli import run_stage
from noisereg.params import ParamsError, load_params


def main(name: str) -> None:
    params = load_params()
    if name not in params.benefit_map.datasets:
        allowed = ", ".join(params.benefit_map.datasets)
        raise ParamsError(
            f"params: unknown dataset '{name}' in benefit_map.datasets; allowed: {allowed}"
        )
    outputs.write_benefit(name, run_dataset(params, name))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help="a name in benefit_map.datasets")
    dataset = parser.parse_args().dataset
    run_stage(f"benefit_map@{dataset}", lambda: main(dataset))
