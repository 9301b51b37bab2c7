"""DVC stage `report`: read every tracked result and render reports/report.{html,md}."""

from noisereg import outputs, provenance
from noisereg.cli import run_stage
from noisereg.data import dataset_dir, load_split
from noisereg.io import read_csv
from noisereg.params import DATASETS, REPORT_SECTIONS, load_params, read_raw_params
from noisereg.report import BenefitMap, RegularizerResults, StudyResults, write_report


def main() -> None:
    params = load_params()
    names = list(params.variants)
    bm = params.benefit_map
    seeds = (
        f"data {params.data.random_state}, split {params.data.split_random_state}, "
        f"train {params.train.seed} ({params.train.replicates} replicates), "
        f"grid {params.grid.seed}, bootstrap {params.report.bootstrap_seed}"
    )
    results = StudyResults(
        title=params.report.title,
        splits={dataset: load_split(dataset_dir(dataset)) for dataset in DATASETS},
        summary=outputs.read_object(outputs.SUMMARY_PATH, "summarize"),
        histories={name: outputs.read_history(name) for name in names},
        weights={name: outputs.read_weights(name) for name in names},
        grid=outputs.read_object(outputs.GRID_METRICS_PATH, "grid_search"),
        grid_cells=read_csv(outputs.GRID_PATH, "grid_search", outputs.GRID_COLUMNS),
        sweep=read_csv(outputs.SWEEP_PATH, "summarize", outputs.SWEEP_COLUMNS),
        params_yaml=provenance.params_text(read_raw_params(), REPORT_SECTIONS),
        provenance=provenance.collect(seeds, [dataset_dir(d) for d in DATASETS]),
        heatmap_resolution=params.report.heatmap_resolution,
        benefit=BenefitMap(
            cells=read_csv(outputs.BENEFIT_MAP_PATH, "summarize", outputs.BENEFIT_MAP_COLUMNS),
            curves=read_csv(
                outputs.BENEFIT_CURVES_PATH, "summarize", outputs.BENEFIT_CURVE_COLUMNS
            ),
            samples={name: outputs.read_benefit(name)[2] for name in params.benefit_map.datasets},
            cv_placement=params.benefit_map.cv_placement,
            protocol=(
                f"{bm.hidden_units} hidden units, full-batch Adam for {bm.epochs} steps, "
                f"{bm.replicates} draws per cell (the variants above: "
                f"{params.variants['baseline'].net.hidden_units[0]} units, "
                f"{params.train.epochs} epochs)"
            ),
        ),
        regularizers=RegularizerResults(
            table=read_csv(
                outputs.REGULARIZERS_PLOT_PATH, "summarize", outputs.REGULARIZER_TABLE_COLUMNS
            ),
            ranking=outputs.read_object(outputs.REGULARIZERS_METRICS_PATH, "summarize")["friedman"],
        ),
    )
    write_report(results, outputs.REPORTS_DIR)


if __name__ == "__main__":
    run_stage("report", main)
