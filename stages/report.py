"""DVC stage `report`: read every tracked result and render reports/report.{html,md}."""

from noisereg.cli import run_stage
from noisereg.data.reference import dataset_dir, load_split
from noisereg.experiments.benefit_map import outputs as benefit_outputs
from noisereg.experiments.benefit_map.section import BenefitMap
from noisereg.experiments.benefit_map.section import section as benefit_section
from noisereg.experiments.benefit_map.summary import map_family
from noisereg.experiments.reference import outputs as reference_outputs
from noisereg.experiments.reference.section import ReferenceResults
from noisereg.experiments.reference.section import section as reference_section
from noisereg.experiments.regularizers import outputs as regularizer_outputs
from noisereg.experiments.regularizers.section import RegularizerResults
from noisereg.experiments.regularizers.section import section as regularizer_section
from noisereg.experiments.regularizers.summary import primary_family as regularizer_family
from noisereg.io import read_csv, read_object
from noisereg.params import DATASETS, REPORT_SECTIONS, Params, load_params, read_raw_params
from noisereg.report import provenance
from noisereg.report.document import write_report


def main() -> None:
    params = load_params()
    seeds = (
        f"data {params.data.random_state}, split {params.data.split_random_state}, "
        f"train {params.train.seed} ({params.train.replicates} replicates), "
        f"grid {params.grid.seed}, bootstrap {params.report.bootstrap_seed}"
    )
    write_report(
        params.report.title,
        [
            reference_section(read_reference(params)),
            benefit_section(read_benefit_map(params), params.report.confidence),
            regularizer_section(
                read_regularizers(params),
                params.report.equivalence_margin,
                params.report.confidence,
            ),
        ],
        params_yaml=provenance.params_text(read_raw_params(), REPORT_SECTIONS),
        provenance=provenance.collect(seeds, [dataset_dir(d) for d in DATASETS]),
    )


def read_reference(params: Params) -> ReferenceResults:
    outputs, names = reference_outputs, list(params.variants)
    return ReferenceResults(
        splits={dataset: load_split(dataset_dir(dataset)) for dataset in DATASETS},
        summary=read_object(outputs.SUMMARY_PATH, "summarize"),
        histories={name: outputs.read_history(name) for name in names},
        weights={name: outputs.read_weights(name) for name in names},
        grid=outputs.read_grid_choices(),
        grid_cells=read_csv(outputs.GRID_PATH, "grid_search", outputs.GRID_COLUMNS),
        sweep=read_csv(outputs.SWEEP_PATH, "summarize", outputs.SWEEP_COLUMNS),
        heatmap_resolution=params.report.heatmap_resolution,
    )


def read_benefit_map(params: Params) -> BenefitMap:
    outputs, bm = benefit_outputs, params.benefit_map
    family = map_family(params)
    return BenefitMap(
        cells=read_csv(outputs.BENEFIT_MAP_PATH, "summarize", outputs.BENEFIT_MAP_COLUMNS),
        curves=read_csv(outputs.BENEFIT_CURVES_PATH, "summarize", outputs.BENEFIT_CURVE_COLUMNS),
        lengths=read_csv(outputs.BENEFIT_LENGTHS_PATH, "summarize", outputs.BENEFIT_LENGTH_COLUMNS),
        samples={name: outputs.read_dataset(name)[2] for name in bm.datasets},
        cv_placement=bm.cv_placement,
        protocol=(
            f"{bm.hidden_units} hidden units, full-batch Adam for {bm.epochs} steps, "
            f"{bm.replicates} draws per cell (the variants above: "
            f"{params.variants['baseline'].net.hidden_units[0]} units, "
            f"{params.train.epochs} epochs)"
        ),
        family=family.description,
        decision_confidence=family.level,
        margin=family.margin,
    )


def read_regularizers(params: Params) -> RegularizerResults:
    outputs = regularizer_outputs
    table = read_csv(outputs.REGULARIZERS_PLOT_PATH, "summarize", outputs.REGULARIZER_TABLE_COLUMNS)
    family = regularizer_family(int(table["primary"].sum()), params.report)
    return RegularizerResults(
        table=table,
        ranking=read_object(outputs.REGULARIZERS_RANKING_PATH, "summarize"),
        family=family.description,
        decision_confidence=family.level,
    )


if __name__ == "__main__":
    run_stage("report", main)
