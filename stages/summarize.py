"""DVC stage `summarize`: intervals, paired comparisons and verdicts from the per-seed results."""

import pandas as pd

from noisereg.cli import run_stage
from noisereg.experiments.benefit_map import outputs as benefit_outputs
from noisereg.experiments.benefit_map import summary as benefit_summary
from noisereg.experiments.reference import outputs, summary
from noisereg.experiments.regularizers import outputs as regularizer_outputs
from noisereg.experiments.regularizers import summary as regularizer_summary
from noisereg.io import write_csv, write_json
from noisereg.params import Params, load_params


def main() -> None:
    params = load_params()
    per_seed = {name: outputs.read_replicates(name) for name in params.variants}
    result, sweep = summary.build(
        params, per_seed, outputs.read_grid_refits(), outputs.read_sweep_replicates()
    )
    write_json(outputs.SUMMARY_PATH, result)
    write_json(outputs.VARIANTS_METRICS_PATH, summary.variant_metrics(result))
    write_json(outputs.GRID_METRICS_PATH, summary.grid_metrics(outputs.read_grid_choices()))
    write_json(outputs.COMPARISONS_PATH, summary.headline_metrics(result))
    write_csv(outputs.SWEEP_PATH, sweep)
    write_csv(outputs.VARIANTS_PLOT_PATH, summary.variant_table(result["variants"]))
    summarize_benefit_map(params)
    summarize_regularizers(params)


def summarize_benefit_map(params: Params) -> None:
    cells, curves, lengths = [], [], []
    for name in params.benefit_map.datasets:
        replicates, cv, _ = benefit_outputs.read_dataset(name)
        cells.append(benefit_summary.map_cells(name, replicates, params))
        curves.append(benefit_summary.learning_curves(name, replicates, cv, params))
        lengths.append(benefit_summary.length_cells(name, replicates, params))
    cell_table, curve_table = (
        pd.concat(cells, ignore_index=True),
        pd.concat(curves, ignore_index=True),
    )
    write_csv(benefit_outputs.BENEFIT_MAP_PATH, cell_table)
    write_csv(benefit_outputs.BENEFIT_CURVES_PATH, curve_table)
    write_csv(benefit_outputs.BENEFIT_LENGTHS_PATH, pd.concat(lengths, ignore_index=True))
    write_json(
        benefit_outputs.BENEFIT_METRICS_PATH,
        benefit_summary.headline(
            cell_table, params.report.equivalence_margin, params.benefit_map.cv_placement
        ),
    )


def summarize_regularizers(params: Params) -> None:
    frames = regularizer_outputs.read_comparison()
    table = regularizer_summary.table(
        frames["per_seed"], frames["chosen"], frames["test_points"], params.report
    )
    ranking = regularizer_summary.friedman(table, params.report.confidence)
    write_csv(regularizer_outputs.REGULARIZERS_PLOT_PATH, table)
    write_json(regularizer_outputs.REGULARIZERS_RANKING_PATH, ranking)
    write_json(regularizer_outputs.REGULARIZERS_METRICS_PATH, regularizer_summary.headline(table))


if __name__ == "__main__":
    run_stage("summarize", main)
