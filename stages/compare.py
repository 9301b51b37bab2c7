"""DVC stage `compare`: paired test-accuracy comparisons of each variant with its reference."""

from noisereg import outputs
from noisereg.cli import run_stage
from noisereg.io import write_json
from noisereg.params import load_params


def main() -> None:
    params = load_params()
    per_seed = {name: outputs.read_replicates(name) for name in params.variants}
    result = outputs.comparisons(per_seed, params.variants, params.report.confidence)
    write_json(outputs.COMPARISONS_PATH, result)


if __name__ == "__main__":
    run_stage("compare", main)
