"""DVC stage `summarize`: intervals, paired comparisons and verdicts from the per-seed results."""

from noisereg import outputs, summary
from noisereg.cli import run_stage
from noisereg.io import write_csv, write_json
from noisereg.params import load_params


def main() -> None:
    params = load_params()
    per_seed = {name: outputs.read_replicates(name) for name in params.variants}
    result, sweep = summary.build(
        params, per_seed, outputs.read_grid_refits(), outputs.read_sweep_replicates()
    )
    write_json(outputs.SUMMARY_PATH, result)
    write_json(outputs.COMPARISONS_PATH, summary.headline_metrics(result))
    write_csv(outputs.SWEEP_PATH, sweep)
    write_csv(outputs.VARIANTS_PLOT_PATH, summary.variant_table(result["variants"]))


if __name__ == "__main__":
    run_stage("summarize", main)
