"""DVC stage `train@<variant>`: train one variant over the replicate seeds with the engine."""

import argparse

from noisereg.cli import run_stage
from noisereg.data.reference import dataset_dir, load_split
from noisereg.engine import keras_export
from noisereg.experiments.reference import outputs
from noisereg.experiments.reference.run import train_replicates
from noisereg.params import ParamsError, load_params


def main(name: str) -> None:
    params = load_params()
    if name not in params.variants:
        raise ParamsError(
            f"params: unknown variant '{name}'; allowed: {', '.join(params.variants)}"
        )
    variant = params.variants[name]
    split = load_split(dataset_dir(variant.dataset))
    label = f"train@{name}"
    (run,) = train_replicates(split, [variant.net], params.train, params.compute, label)
    replication = None
    if params.train.replication_seed is not None:
        (replication,) = train_replicates(
            split, [variant.net], params.train, params.compute, f"{label} replication", 1
        )
    keras_export.write_model_dir(outputs.model_dir(name), variant.net, run.weights)
    outputs.write_variant(name, run, split, replication)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    variant_name = parser.parse_args().variant
    run_stage(f"train@{variant_name}", lambda: main(variant_name))
