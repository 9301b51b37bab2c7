"""params.yaml as frozen pydantic models: types, ranges and one-line descriptions, declared.

The models are the single source of the rules: `load_params` validates with them,
`noisereg.params.schema` writes them out as params.schema.json for editors, and
`noisereg.params.errors` turns the first validation error into one line naming the key.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from noisereg.net import Net
from noisereg.params.errors import Invalid, ParamsError, one_line

Placement = Literal["input", "hidden", "both"]
Dataset = Literal["reference", "large"]
Backend = Literal["local", "dask"]
DATASETS: tuple[str, ...] = get_args(Dataset)
MAX_DEPTH = 10
NAME_PATTERN = r"^[A-Za-z0-9_]+$"


def _distinct(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(values)) != len(values):
        raise ValueError("repeated values")
    return values


# Lists: YAML gives lists, the code keeps tuples (hashable, immutable); items stay strict.
_NON_EMPTY_DISTINCT = Field(min_length=1, json_schema_extra={"uniqueItems": True})
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]
Width = Annotated[int, Field(ge=1, le=100_000)]
# Keras GaussianNoise accepts stddev in [0, 1]; every variant must export to Keras.
Stddev = Annotated[float, Field(ge=0.0, le=1.0)]
DropoutRate = Annotated[float, Field(ge=0.0, lt=1.0)]
Widths = Annotated[tuple[Width, ...], Strict(False), _NON_EMPTY_DISTINCT, AfterValidator(_distinct)]
Stddevs = Annotated[
    tuple[Stddev, ...], Strict(False), _NON_EMPTY_DISTINCT, AfterValidator(_distinct)
]
PositiveStddevs = Annotated[
    tuple[Annotated[float, Field(gt=0.0, le=1.0)], ...],
    Strict(False),
    _NON_EMPTY_DISTINCT,
    AfterValidator(_distinct),
]
Placements = Annotated[
    tuple[Placement, ...], Strict(False), _NON_EMPTY_DISTINCT, AfterValidator(_distinct)
]
PerLayer = Annotated[tuple[Stddev, ...], Strict(False), Field(min_length=1)]
PerLayerRate = Annotated[tuple[DropoutRate, ...], Strict(False), Field(min_length=1)]
Layers = Annotated[tuple[Width, ...], Strict(False), Field(min_length=1, max_length=MAX_DEPTH)]
VariantName = Annotated[str, Field(pattern=NAME_PATTERN)]
SCHEDULER_PATTERN = r"^(local|(tcp|tls|inproc|ucx|ws|wss)://\S+)$"


class Section(BaseModel):
    """What every section shares: immutable, no unknown keys, no silent type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class DataParams(Section):
    """The `data` section: make_circles settings, the split, and the large dataset's size."""

    n_samples: int = Field(ge=10, le=1_000_000, description="points drawn by sklearn make_circles")
    noise: float = Field(
        ge=0.0, le=10.0, description="make_circles noise (stddev of the jitter on each point)"
    )
    random_state: Seed = Field(description="make_circles seed")
    test_size: float = Field(
        gt=0.0, lt=1.0, description="fraction held out as the test set (the count rounds up)"
    )
    split_random_state: Seed = Field(description="train_test_split seed")
    large_n_samples: int = Field(
        ge=10,
        le=1_000_000,
        description="points of the large dataset (same generator, noise and split)",
    )

    @model_validator(mode="after")
    def _both_splits_have_points(self) -> DataParams:
        for key, n_samples in (
            ("test_size", self.n_samples),
            ("large_n_samples", self.large_n_samples),
        ):
            n_train = train_points(n_samples, self.test_size)
            if n_train < 2 or n_samples - n_train < 1:
                value = getattr(self, key)
                raise Invalid(
                    key,
                    f"must leave >= 2 training and >= 1 test point ({n_samples} points at "
                    f"test_size {self.test_size} leave {n_train} training)",
                    value,
                )
        return self


class Optimization(Section):
    """Adam and loop settings: what the engine needs to train any set of models."""

    epochs: int = Field(ge=1, le=10_000_000, description="full passes over the training set")
    batch_size: int = Field(
        ge=1,
        description="minibatch size (>= the training points: one full-batch step per epoch)",
    )
    learning_rate: float = Field(gt=0.0, le=10.0, description="Adam step size")
    beta_1: float = Field(ge=0.0, lt=1.0, description="Adam first-moment decay")
    beta_2: float = Field(ge=0.0, lt=1.0, description="Adam second-moment decay")
    epsilon: float = Field(
        gt=0.0, le=1.0, description="Adam denominator epsilon (Keras default 1e-7)"
    )
    log_every: int = Field(
        ge=1, description="record train/validation loss and accuracy every N epochs"
    )
    shuffle: bool = Field(
        description="reshuffle minibatches every epoch (no effect in full-batch mode)"
    )

    @classmethod
    def keras_adam(
        cls, epochs: int, batch_size: int = 32, log_every: int = 1, shuffle: bool = True
    ) -> Optimization:
        """Return settings with Keras' Adam defaults (1e-3, 0.9, 0.999, 1e-7)."""
        return cls(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=1e-3,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-7,
            log_every=log_every,
            shuffle=shuffle,
        )


class TrainParams(Optimization):
    """The `train` section: the optimization settings plus the replicate seeds."""

    replicates: int = Field(
        ge=1,
        le=10_000,
        description="seeds per variant; seed i shares initial weights across variants",
    )
    seed: Seed = Field(description="root of every replicate's weight and noise seeds")
    replication_seed: Seed | None = Field(
        description="second seed set that checks each verdict (null: off; on doubles each "
        "train@ stage)"
    )


class VariantParams(Section):
    """One variant: its net and training noise, its dataset, and its comparison reference."""

    # hidden_units and dataset have no default: DVC's `${item.<key>}` reads them from
    # params.yaml itself, so a default here would hide them from the train@ stage.
    hidden_units: Width | Layers = Field(
        description="width, or a list of widths (one per hidden layer)"
    )
    input_stddev: Stddev = Field(default=0.0, description="GaussianNoise on the inputs")
    hidden_stddev: Stddev | PerLayer = Field(
        default=0.0,
        description="GaussianNoise on each hidden pre-activation (number or per-layer list)",
    )
    post_activation_stddev: Stddev | PerLayer = Field(
        default=0.0,
        description="GaussianNoise after each hidden ReLU (number or per-layer list)",
    )
    dropout_rate: DropoutRate | PerLayerRate = Field(
        default=0.0,
        description="GaussianDropout rate after each hidden layer (number or per-layer list)",
    )
    bernoulli_dropout_rate: DropoutRate | PerLayerRate = Field(
        default=0.0,
        description="Dropout rate after each hidden layer (Keras Dropout; number or per-layer "
        "list)",
    )
    weight_stddev: Stddev = Field(
        default=0.0, description="fresh N(0, s^2) added to every kernel at each training step"
    )
    logit_stddev: Stddev = Field(
        default=0.0, description="GaussianNoise on the output logit, before the sigmoid"
    )
    l2: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="weight decay: l2 x the sum of squared kernel weights added to the loss",
    )
    dataset: Dataset = Field(description="reference (data/reference/) or large (data/large/)")
    compare_to: VariantName | None = Field(
        default="baseline",
        description="the noiseless variant it is paired with (default baseline; null = none)",
    )

    @model_validator(mode="after")
    def _one_value_per_layer(self) -> VariantParams:
        depth = 1 if isinstance(self.hidden_units, int) else len(self.hidden_units)
        for key in (
            "hidden_stddev",
            "post_activation_stddev",
            "dropout_rate",
            "bernoulli_dropout_rate",
        ):
            value = getattr(self, key)
            if isinstance(value, tuple) and len(value) != depth:
                raise Invalid(key, f"must have one value per hidden layer ({depth})", list(value))
        return self

    @property
    def net(self) -> Net:
        """Return the Net: one number for a per-layer setting applies to every layer."""
        return Net.of(
            self.hidden_units,
            input_stddev=self.input_stddev,
            hidden_stddev=self.hidden_stddev,
            post_activation_stddev=self.post_activation_stddev,
            dropout_rate=self.dropout_rate,
            bernoulli_dropout_rate=self.bernoulli_dropout_rate,
            weight_stddev=self.weight_stddev,
            logit_stddev=self.logit_stddev,
            l2=self.l2,
        )


class GridParams(Section):
    """The `grid` section: widths x hidden-noise stddevs and the repeated CV."""

    hidden_units: Widths = Field(description="widths searched (hidden-noise model)")
    stddevs: Stddevs = Field(description="hidden-noise stddevs searched")
    cv_folds: int = Field(ge=2, le=1000, description="stratified folds of the training points")
    cv_repeats: int = Field(
        ge=1, le=1000, description="CV repeats, each reshuffled (1 = the reference's single CV)"
    )
    seed: Seed = Field(description="seed of the fold shuffles and of the CV models")


class SweepParams(Section):
    """The `sweep` section: noise stddevs per placement at one hidden width."""

    hidden_units: Width = Field(description="width of the swept net")
    stddevs: PositiveStddevs = Field(
        description="noise levels swept (0 and the variants' levels are added)"
    )
    placements: Placements = Field(description="where the noise goes: input, hidden or both")


class CirclesParams(Section):
    """Two concentric circles (sklearn make_circles): a closed, curved boundary."""

    factor: float = Field(gt=0.0, lt=1.0, description="inner radius / outer radius")
    noise: float = Field(ge=0.0, le=10.0, description="stddev of the jitter on each point")


class MoonsParams(Section):
    """Two interleaved half circles (sklearn make_moons)."""

    noise: float = Field(ge=0.0, le=10.0, description="stddev of the jitter on each point")


class XorParams(Section):
    """Four Gaussian blobs at (+-1, +-1), opposite corners in one class: a checkerboard."""

    spread: float = Field(gt=0.0, le=10.0, description="stddev of each blob around its corner")


class SpiralsParams(Section):
    """Two interleaved spirals, one turned half a turn from the other."""

    turns: float = Field(gt=0.0, le=5.0, description="turns of each spiral arm")
    noise: float = Field(ge=0.0, le=10.0, description="stddev of the jitter on each point")


class BlobsParams(Section):
    """Two unit-variance Gaussian classes: linear, with irreducible error."""

    separation: float = Field(
        ge=0.0, le=100.0, description="distance between the class means, in stddevs"
    )


class DatasetsParams(Section):
    """The `datasets` section: each generator's settings (noisereg/data/synthetic.py draws them)."""

    circles: CirclesParams = Field(description="concentric circles, the reference's generator")
    moons: MoonsParams = Field(description="two interleaved half circles")
    xor: XorParams = Field(description="four blobs in an XOR layout")
    spirals: SpiralsParams = Field(description="two interleaved spirals")
    blobs: BlobsParams = Field(description="two overlapping Gaussians (a linear problem)")


MapDataset = Literal["circles", "moons", "xor", "spirals", "blobs"]
MapDatasets = Annotated[
    tuple[MapDataset, ...], Strict(False), _NON_EMPTY_DISTINCT, AfterValidator(_distinct)
]
MAX_DRAW = 100_000
# Training lengths scored before the end of a run; may be empty.
Checkpoints = Annotated[
    tuple[Annotated[int, Field(ge=1, le=10_000_000)], ...],
    Strict(False),
    Field(json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct),
]
Sizes = Annotated[
    tuple[Annotated[int, Field(ge=2, le=MAX_DRAW)], ...],
    Strict(False),
    _NON_EMPTY_DISTINCT,
    AfterValidator(_distinct),
]


class BenefitMapParams(Section):
    """The `benefit_map` section: noise against no noise over datasets x sizes x stddevs."""

    datasets: MapDatasets = Field(
        description="datasets mapped (keys of datasets): one benefit_map@<name> stage each"
    )
    sizes: Sizes = Field(
        description="training-set sizes; every replicate draws its own training set"
    )
    placements: Placements = Field(description="noise placements mapped: input, hidden or both")
    stddevs: Stddevs = Field(
        description="noise stddevs mapped, each paired with the same seeds without noise"
    )
    replicates: int = Field(ge=2, le=10_000, description="training draws (and seeds) per cell")
    hidden_units: Width = Field(description="width of the mapped one-hidden-layer net")
    epochs: int = Field(
        ge=1,
        le=10_000_000,
        description="full-batch Adam steps in every cell (Adam settings from train)",
    )
    checkpoints: Checkpoints = Field(
        description="shorter training lengths also scored, from the same runs (ascending, "
        "each below epochs)"
    )
    test_points: int = Field(ge=2, le=1_000_000, description="test points drawn once per dataset")
    cv_folds: int = Field(
        ge=2,
        le=1000,
        description="stratified folds of each draw that choose the learning curves' stddev",
    )
    cv_placement: Placement = Field(
        description="placement whose stddev CV chooses for the learning curves"
    )
    seed: Seed = Field(description="root of the draws, initial weights and noise streams")

    @model_validator(mode="after")
    def _draws_fit_the_folds(self) -> BenefitMapParams:
        smallest = 2 * self.cv_folds
        if min(self.sizes) < smallest:
            raise Invalid(
                "sizes",
                f"must each be >= {smallest} (each class of a draw needs one point per "
                f"fold; cv_folds is {self.cv_folds})",
                list(self.sizes),
            )
        if list(self.checkpoints) != sorted(self.checkpoints) or any(
            c >= self.epochs for c in self.checkpoints
        ):
            raise Invalid(
                "checkpoints",
                f"must be ascending and each below epochs ({self.epochs})",
                list(self.checkpoints),
            )
        if self.cv_placement not in self.placements:
            raise Invalid(
                "cv_placement",
                f"must be one of the mapped placements ({', '.join(self.placements)})",
                self.cv_placement,
            )
        return self


EARLY_STOPPING = "early_stopping"
NONE = "none"  # the unregularized net, every comparison's first reference
COMBINED = "hidden_stddev+best"  # hidden noise tuned on top of the best non-noise method
NON_NOISE_METHODS = ("l2", "bernoulli_dropout_rate", EARLY_STOPPING)
NOISE_METHODS = ("input_stddev", "hidden_stddev", "weight_stddev", "dropout_rate")
Method = Literal[
    "l2",
    "bernoulli_dropout_rate",
    "early_stopping",
    "input_stddev",
    "hidden_stddev",
    "weight_stddev",
    "dropout_rate",
]
# Upper bounds per method: Keras' GaussianNoise stddev <= 1, rates < 1, a fraction <= 1.
_METHOD_LIMITS = {
    "l2": ("<= 1", lambda v: v <= 1.0),
    "bernoulli_dropout_rate": ("< 1", lambda v: v < 1.0),
    "dropout_rate": ("< 1", lambda v: v < 1.0),
    "early_stopping": ("<= 1 (a fraction of the epochs)", lambda v: v <= 1.0),
    "input_stddev": ("<= 1", lambda v: v <= 1.0),
    "hidden_stddev": ("<= 1", lambda v: v <= 1.0),
    "weight_stddev": ("<= 1", lambda v: v <= 1.0),
}
Candidates = Annotated[
    tuple[Annotated[float, Field(gt=0.0)], ...],
    Strict(False),
    _NON_EMPTY_DISTINCT,
    AfterValidator(_distinct),
]


class RegularizersParams(Section):
    """The `regularizers` section: each method's candidate strengths and the tuning CV."""

    candidates: Annotated[
        dict[Method, Candidates],
        Field(
            min_length=1,
            description="strengths tried per method, the same count for each (early_stopping: "
            "fractions of the epochs)",
        ),
    ]
    cv_folds: int = Field(ge=2, le=1000, description="stratified folds of the tuning CV")
    cv_repeats: int = Field(ge=1, le=1000, description="repeats of the tuning CV, reshuffled")
    seed: Seed = Field(description="seed of the tuning folds, fold models and tuning draws")
    datasets: Annotated[
        tuple[MapDataset, ...],
        Strict(False),
        Field(json_schema_extra={"uniqueItems": True}),
        AfterValidator(_distinct),
    ] = Field(description="benefit-map datasets also compared on fresh draws (may be empty)")
    n_train: int = Field(
        ge=2, le=MAX_DRAW, description="training points per fresh draw (and of the tuning draw)"
    )
    replicates: int = Field(
        ge=2, le=10_000, description="fresh draws per method (the map's first draws)"
    )

    @model_validator(mode="after")
    def _same_budget_in_range(self) -> RegularizersParams:
        counts = {len(v) for v in self.candidates.values()}
        if len(counts) > 1:
            raise Invalid(
                "candidates",
                "must give every method the same number of candidates (the same tuning "
                f"budget), got {', '.join(f'{m}: {len(v)}' for m, v in self.candidates.items())}",
            )
        for method, values in self.candidates.items():
            bound, within = _METHOD_LIMITS[method]
            if not all(within(v) for v in values):
                raise Invalid(f"candidates.{method}", f"must each be {bound}", list(values))
        if self.datasets and self.n_train < 2 * self.cv_folds:
            raise Invalid(
                "n_train",
                f"must be >= {2 * self.cv_folds} (each class of the tuning draw needs one point "
                f"per fold; cv_folds is {self.cv_folds})",
                self.n_train,
            )
        return self


class ComputeParams(Section):
    """The `compute` section: where training runs and how many models one graph holds."""

    backend: Backend = Field(
        description="local: the batched engine in this process; dask: tasks on a Dask cluster"
    )
    scheduler: str = Field(
        pattern=SCHEDULER_PATTERN,
        examples=["local", "tcp://10.0.0.5:8786"],
        description="dask only: local (start a LocalCluster) or an address, e.g. "
        "tcp://10.0.0.5:8786",
    )
    n_workers: int = Field(
        ge=1, le=1024, description="LocalCluster workers when scheduler is local"
    )
    chunk_models: int = Field(
        ge=1,
        le=100_000,
        description="models per batched graph (and per Dask task); a tracked param",
    )
    connect_timeout_s: float = Field(
        gt=0.0, le=600.0, description="give up on an unreachable scheduler after this many seconds"
    )


class ReportParams(Section):
    """The `report` section: title, decision-map resolution, and how results are summarized."""

    title: str = Field(min_length=1, pattern=r"\S", description="report heading")
    heatmap_resolution: int = Field(
        ge=10, le=2000, description="decision-boundary grid points per axis"
    )
    confidence: float = Field(
        gt=0.5,
        lt=1.0,
        description="level of every shown interval (verdicts: Bonferroni over each family)",
    )
    equivalence_margin: float = Field(
        ge=0.0,
        lt=1.0,
        description='accuracy differences inside +-margin are "no practical difference"',
    )
    bootstrap_resamples: int = Field(
        ge=100,
        le=1_000_000,
        description="resamples per fixed-split interval (pigeonhole bootstrap)",
    )
    bootstrap_seed: Seed = Field(description="seed of the bootstrap resampling")


class Params(Section):
    """Parameters of the noise-regularization study (params.yaml), one section per concern."""

    model_config = ConfigDict(title="noisereg params.yaml")

    data: DataParams
    train: TrainParams
    variants: Annotated[
        dict[VariantName, VariantParams],
        Field(
            min_length=1,
            description="one train@<name> stage per entry; 'baseline' is required",
            # Editors flag a bad name too; the description is the error's wording.
            json_schema_extra={
                "propertyNames": {
                    "pattern": NAME_PATTERN,
                    "description": "only letters, digits and _",
                }
            },
        ),
    ]
    grid: GridParams
    sweep: SweepParams
    datasets: DatasetsParams
    benefit_map: BenefitMapParams
    regularizers: RegularizersParams
    compute: ComputeParams
    report: ReportParams

    @field_validator("variants", mode="before")
    @classmethod
    def _baseline_compares_to_nothing(cls, raw: Any) -> Any:
        """Default `compare_to` is baseline for every variant except baseline itself."""
        if isinstance(raw, dict) and isinstance(raw.get("baseline"), dict):
            return {**raw, "baseline": {"compare_to": None, **raw["baseline"]}}
        return raw

    @model_validator(mode="after")
    def _comparisons_are_paired(self) -> Params:
        if "baseline" not in self.variants:
            raise Invalid("variants", "must include 'baseline' (the comparison reference)")
        baseline = self.variants["baseline"]
        net = baseline.net
        if not net.noiseless or net.l2 or baseline.dataset != "reference" or baseline.compare_to:
            raise Invalid(
                "variants.baseline",
                "must be the reference net without noise or weight decay: no noise key and "
                "no l2 above 0, dataset 'reference', no compare_to",
            )
        for name, variant in self.variants.items():
            target = variant.compare_to
            if target is None:
                continue
            key = f"variants.{name}.compare_to"
            if target == name or target not in self.variants:
                others = ", ".join(n for n in self.variants if n != name)
                raise Invalid(key, f"must name another variant or be null ({others})", target)
            reference = self.variants[target]
            if (reference.net.hidden_units, reference.dataset) != (
                variant.net.hidden_units,
                variant.dataset,
            ):
                raise Invalid(
                    key,
                    "must name a variant with the same hidden_units and dataset (paired by "
                    f"seed), not one with {list(reference.net.hidden_units)} on "
                    f"{reference.dataset}",
                    target,
                )
        return self

    @model_validator(mode="after")
    def _every_fold_has_both_classes(self) -> Params:
        most = self.n_train // 2
        for key, folds in (
            ("grid.cv_folds", self.grid.cv_folds),
            ("regularizers.cv_folds", self.regularizers.cv_folds),
        ):
            if folds > most:
                raise Invalid(
                    key,
                    f"must be <= {most} (each class of the {self.n_train} training points "
                    "needs one point per fold)",
                    folds,
                )
        return self

    @property
    def n_train(self) -> int:
        """Return the number of training points the split leaves (sklearn rounds test up)."""
        return train_points(self.data.n_samples, self.data.test_size)


def train_points(n_samples: int, test_size: float) -> int:
    """Return the training points sklearn's train_test_split leaves (it rounds the test up)."""
    return n_samples - math.ceil(test_size * n_samples)


# The params the report stage declares in dvc.yaml, and so the only ones it may print
# (compute.backend/scheduler/n_workers change where training runs, never what it gives).
REPORT_SECTIONS = {
    "data": None,
    "train": None,
    "variants": None,
    "grid": None,
    "sweep": None,
    "datasets": None,
    "benefit_map": None,
    "regularizers": None,
    "compute": ("chunk_models",),
    "report": None,
}


SCHEMA = Params.model_json_schema()


def parse_params(raw: Any) -> Params:
    """Return validated Params from the parsed YAML mapping, or raise a one-line ParamsError."""
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(one_line(error, raw, SCHEMA)) from None


class Yaml12FloatLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading floats as YAML 1.2 does.

    DVC writes params.yaml back with ruamel (YAML 1.2): `dvc exp run -S train.epsilon=2e-7`
    writes `2e-07`, which YAML 1.1 (PyYAML) would read as a string, since its floats need a
    dot. DVC itself reads that value as a float; so must the stages.
    """


Yaml12FloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_raw_params(path: str | Path = "params.yaml") -> Any:
    """Return params.yaml parsed but not validated; ParamsError names the file on failure."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ParamsError(f"params: cannot read {path}: {error.strerror}") from error
    try:
        raw = yaml.load(text, Loader=Yaml12FloatLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as error:
        raise ParamsError(
            f"params: {path} is not valid YAML: {str(error).splitlines()[0]}"
        ) from error
    return raw


def load_params(path: str | Path = "params.yaml") -> Params:
    """Return validated Params from a file; ParamsError names the file or key on failure."""
    return parse_params(read_raw_params(path))
