"""DVC stage `train@<variant>`: train one variant over the replicate seeds with the engine."""

import argparse
from pathlib import Path

from noisereg import outputs
from noisereg.cli import run_stage
from noisereg.data import load_split
from noisereg.params import ParamsError, load_params
from noisereg.study import train_replicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    name = parser.parse_args().variant
    params = load_params()
    if name not in params.variants:
        raise ParamsError(
            f"params: unknown variant '{name}'; allowed: {', '.join(params.variants)}"
        )
    variant = params.variants[name]
    split = load_split(Path("data"))
    config = (params.model.hidden_units, variant.input_stddev, variant.hidden_stddev)
    (run,) = train_replicates(split, [config], params.train, f"train@{name}")
    outputs.write_variant(name, variant, run, params.report.confidence)


if __name__ == "__main__":
    run_stage("train", main)
