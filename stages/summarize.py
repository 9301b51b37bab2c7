"""DVC stage `summarize`: intervals, paired comparisons and verdicts from the per-seed results."""

import pandas as pd

from noisereg import benefit_summary, outputs, regularizer_summary, summary
from noisereg.cli import run_stage
from noisereg.io import write_csv, write_json
from noisereg.params import Params, load_params


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
    summarize_benefit_map(params)
    summarize_regularizers(params)


def summarize_benefit_map(params: Params) -> None:
    cells, curves = [], []
    for name in params.benefit_map.datasets:
        replicates, cv, _ = outputs.read_benefit(name)
        cells.append(benefit_summary.map_cells(name, replicates, params.report))
        curves.append(benefit_summary.learning_curves(name, replicates, cv, params))
    cell_table, curve_table = (
        pd.concat(cells, ignore_index=True),
        pd.concat(curves, ignore_index=True),
    )
    write_csv(outputs.BENEFIT_MAP_PATH, cell_table)
    write_csv(outputs.BENEFIT_CURVES_PATH, curve_table)
    write_json(outputs.BENEFIT_METRICS_PATH, benefit_summary.headline(cell_table, curve_table))


def summarize_regularizers(params: Params) -> None:
    frames = outputs.read_regularizers()
    table = regularizer_summary.table(frames["per_seed"], frames["chosen"], params.report)
    ranking = regularizer_summary.friedman(table, params.report.confidence)
    write_csv(outputs.REGULARIZERS_PLOT_PATH, table)
    candidates = params.regularizers.candidates
    write_json(
        outputs.REGULARIZERS_METRICS_PATH,
        regularizer_summary.headline(table, ranking, candidates),
    )


if __name__ == "__main__":
    run_stage("summarize", main)
