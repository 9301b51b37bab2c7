"""The report renders from fixture results, escapes strings, and works offline in Chromium."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from noisereg.data.reference import Split
from noisereg.engine.randomness import glorot_uniform_mlp
from noisereg.experiments.reference import figures
from noisereg.experiments.reference import section as reference
from noisereg.experiments.reference.section import ReferenceResults
from noisereg.experiments.reference.summary import build, findings
from noisereg.experiments.reference.surface import decision_surface
from noisereg.net import MLPWeights, Net
from noisereg.params import Params, SweepParams, VariantParams
from noisereg.report.document import display_width, write_report
from noisereg.report.style import DPI, MAX_WIDTH_PX, plt, save_figure
from noisereg.report.text import signed_interval
from tests.browser import headless_chromium
from tests.per_point import per_seed_frame

EVIL = "<script>alert(1)</script>"


def per_seed_counts(rng: np.random.Generator, test_mean: float) -> pd.DataFrame:
    """Return five seeds' correct counts and per-point records (30 training, 70 test points)."""
    return per_seed_frame(
        np.round(70 * (test_mean + rng.normal(0, 0.02, 5))).astype(int),
        train_correct=rng.integers(27, 31, 5),
        test_loss=rng.uniform(0.5, 0.7, 5),
    )


def fixture_results(split: Split, default_params: Params) -> ReferenceResults:
    rng = np.random.default_rng(0)
    # name -> (net, compared with)
    setup = {
        "baseline": (Net.of(8), None),
        "input_noise": (Net.of(8, input_stddev=0.1), "baseline"),
        "deep_baseline": (Net.of((4, 4)), None),
        EVIL: (Net.of((4, 4), hidden_stddev=0.2), "deep_baseline"),
    }
    epochs = np.arange(10, 110, 10)
    histories, weights, per_seed = {}, {}, {}
    for i, (name, (net, _)) in enumerate(setup.items()):
        per_seed[name] = per_seed_counts(rng, 0.6 + 0.02 * i)
        histories[name] = pd.DataFrame(
            {
                "epoch": epochs,
                **{c: np.linspace(0.7, 0.3, 10) for c in ("train_loss", "val_loss")},
                **{c: np.linspace(0.5, 0.9, 10) for c in ("train_acc", "val_acc")},
                **{
                    f"{c}_std": np.full(10, 0.02)
                    for c in ("train_loss", "val_loss", "train_acc", "val_acc")
                },
            }
        )
        weights[name] = [glorot_uniform_mlp(s, net.hidden_units) for s in range(3)]
    params = default_params.model_copy(
        update=dict(
            variants={
                name: VariantParams(
                    **dataclasses.asdict(net), dataset="reference", compare_to=reference
                )
                for name, (net, reference) in setup.items()
            },
            sweep=SweepParams(hidden_units=8, stddevs=(0.5, 1.0), placements=("input", "hidden")),
            report=default_params.report.model_copy(update=dict(bootstrap_resamples=500)),
        )
    )
    refits = pd.concat(
        [per_seed_counts(rng, 0.62).assign(choice=c) for c in ("best", "one_se")],
        ignore_index=True,
    )
    sweep_per_seed = pd.concat(
        [
            per_seed_counts(rng, 0.6).assign(placement=p, stddev=s)
            for p in ("input", "hidden")
            for s in (0.5, 1.0)
        ],
        ignore_index=True,
    )
    summary, sweep = build(params, per_seed, refits, sweep_per_seed)
    cells = pd.DataFrame(
        [
            {"hidden_units": w, "noise": n, "cv_mean": 0.7 + 0.01 * w / 8, "cv_se": 0.05}
            for w in (8, 16)
            for n in (0.1, 0.5)
        ]
    )
    chosen = {"cv_mean": 0.72, "cv_se": 0.03}
    grid = {
        "best": {**chosen, "hidden_units": 16, "noise": 0.1},
        "one_se": {**chosen, "hidden_units": 8, "noise": 0.5},
        "cv_scores_per_cell": 5,
    }
    return ReferenceResults(
        splits={"reference": split},
        summary=summary,
        histories=histories,
        weights=weights,
        grid=grid,
        grid_cells=cells,
        sweep=sweep,
        heatmap_resolution=25,
    )


@pytest.fixture(scope="module")
def report_dir(
    tmp_path_factory: pytest.TempPathFactory, split: Split, default_params: Params
) -> Path:
    directory = tmp_path_factory.mktemp("report")
    write_report(
        f"Fixture report {EVIL}",
        [reference.section(fixture_results(split, default_params))],
        params_yaml=f"title: {EVIL}\n",
        provenance={"code": "abc123", "note": EVIL},
        directory=directory,
    )
    return directory


def test_outputs_and_markdown_links(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text()
    links = [
        line.split("](")[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")
    ]
    assert len(links) == 5
    for link in links:
        # A drawn figure, not an empty image (palette PNGs of the tiny study: ~9 KB and up).
        assert link.startswith("figures/") and (report_dir / link).stat().st_size > 4_000
    # Inside fenced code blocks text is literal; everywhere else it must be escaped.
    prose = "".join(markdown.split("```")[0::2])
    assert EVIL not in prose and "&lt;script&gt;" in prose
    for section in (
        "## Summary",
        "## Paired comparisons",
        "## Differences from the reference",
        "## Provenance",
        "ReLU twice",
    ):
        assert section in markdown


def summary_section(markdown: str) -> str:
    return markdown.split("## Summary")[1].split("## Results per variant")[0]


def test_summary_answers_from_the_numbers(
    report_dir: Path, split: Split, default_params: Params
) -> None:
    results = fixture_results(split, default_params)
    found = results.summary["findings"]
    markdown = (report_dir / "report.md").read_text()
    summary = summary_section(markdown)
    sentences = [line for line in summary.splitlines() if line and not line.startswith(("!", "*"))]
    assert 3 <= len(sentences) <= 6
    # The best setting is the one with the highest mean test accuracy among all candidates.
    best = found["best"]
    assert f"{found['best_test_acc']['mean']:.3f}" in summary
    assert reference._setting(results, best).replace("<", "&lt;").replace(">", "&gt;") in summary
    # Its lead over the runner-up is stated with their own paired difference, and no verdict:
    # it was picked on the test set.
    lead = signed_interval(found["best_vs_runner_up"])
    assert f"runner-up, {reference._setting(results, found['runner_up'])}" in summary
    assert lead in summary and "carry no verdict" in summary
    # The verdicts are said to be about this split, with what the design can detect.
    assert "about this one split of 30 training and 70 test points" in summary
    assert "minimum detectable effect" in summary
    # Comparisons against a reference other than baseline get their own sentence.
    other = "Against the other noiseless references: against deep_baseline (hidden layers 4 x 4)"
    assert other in summary
    assert "&lt;script&gt;" in summary
    # The summary figure follows the summary sentences.
    assert "](figures/paired_differences.png)" in summary


def test_findings_rank_by_mean_and_pair_by_seed(default_params: Params) -> None:
    def frame(counts: list[int]) -> pd.DataFrame:
        return per_seed_frame(counts, train_correct=30)

    base = frame([40, 41, 42, 43, 44, 45])
    per_seed = {"baseline": base, "input_noise": frame([45, 46, 47, 48, 49, 50])}
    params = default_params.model_copy(
        update=dict(variants={n: default_params.variants[n] for n in per_seed})
    )
    # The sweep's hidden 0.3 is one count ahead of input_noise on every seed; hidden 1.0 hurts.
    sweep = pd.concat(
        [
            frame([46, 47, 48, 49, 50, 51]).assign(placement="hidden", stddev=0.3),
            frame([20, 21, 22, 23, 24, 25]).assign(placement="hidden", stddev=1.0),
        ]
    )
    refits = frame([41, 41, 41, 41, 41, 41]).assign(choice="best")
    found = findings(per_seed, refits, sweep, params)
    assert found["best"] == "sweep:hidden:0.3" and found["runner_up"] == "variant:input_noise"
    lead = found["best_vs_runner_up"]
    # Paired by seed and point: the same one extra point on every seed. Its interval still
    # has a width, because those 6 x 1 extra points are a sample of the test points.
    assert lead["mean"] == 1 / 70 and lead["std"] == 0.0 and lead["ci_low"] < lead["ci_high"]
    assert "verdict" not in lead  # chosen on the test set: no verdict
    assert found["best_vs_baseline"]["mean"] == 6 / 70
    assert "sweep_hurts_from" not in found


def test_each_number_appears_once_in_the_body(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text()
    body = markdown.split("## Results per variant")[1].split("## Provenance")[0]
    comparisons = body.split("## Paired comparisons")[1].split("## Grid search")[0]
    assert not [line for line in comparisons.splitlines() if line.startswith("- ")]
    rows = [line for line in comparisons.splitlines() if line.startswith("| ") and "[" in line]
    assert rows
    for row in rows:
        difference = row.split(" | ")[3]
        assert body.count(difference) == 1, difference


def test_html_is_self_contained_and_escaped(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert html.count("data:image/png;base64,") == 5


def test_decision_surface_orientation() -> None:
    # A net whose output grows with x1 only: probability must increase along axis 1 (columns).
    weights = MLPWeights(
        (np.array([[1.0], [0.0]], np.float32), np.array([[5.0]], np.float32)),
        (np.zeros(1, np.float32), np.array([-2.5], np.float32)),
    )
    xs, ys = np.linspace(0, 1, 7), np.linspace(0, 1, 3)
    z = decision_surface([weights], xs, ys)
    assert z.shape == (3, 7)
    assert np.all(np.diff(z, axis=1) > 0) and np.allclose(np.diff(z, axis=0), 0)


def test_report_in_headless_chromium(report_dir: Path) -> None:
    console_errors: list[str] = []
    requests: list[str] = []
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))
        page.goto((report_dir / "report.html").as_uri())
        page.wait_for_load_state("load")
        images: list[dict[str, Any]] = page.eval_on_selector_all(
            "img",
            "els => els.map(e => ({w: e.naturalWidth, shown: e.clientWidth, alt: e.alt}))",
        )
        rows = page.eval_on_selector_all(
            "#results-table tbody tr", "els => els.map(e => e.cells[0].textContent)"
        )
        script_count = page.eval_on_selector_all("script", "els => els.length")
        wide_tables = page.eval_on_selector_all(
            ".table-wrap",
            "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.firstChild.id)",
        )
        page.set_viewport_size({"width": 375, "height": 800})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert console_errors == []
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert len(images) == 5 and all(i["w"] > 0 and i["alt"] for i in images)
    # Sized for a page (at most MAX_WIDTH_PX wide), and never shown larger than drawn.
    assert all(i["w"] <= MAX_WIDTH_PX and i["w"] / i["shown"] >= 1.0 for i in images)
    # The <script> name shows as text, not markup.
    assert rows == ["baseline", "input_noise", "deep_baseline", EVIL]
    assert script_count == 0
    assert overflow <= 0, "the page scrolls sideways on a narrow screen"
    assert wide_tables == [], "these tables scroll sideways at 1280 px"


def test_training_curves_title_does_not_overlap_the_panels(split: Split) -> None:
    history = pd.DataFrame(
        {
            "epoch": [10, 20],
            **{c: [0.5, 0.4] for c in ("train_loss", "val_loss", "train_acc", "val_acc")},
            **{f"{c}_std": [0.0, 0.0] for c in ("train_loss", "val_loss", "train_acc", "val_acc")},
        }
    )
    figure = figures.training_curves({f"v{i}": history for i in range(13)})
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    title = figure._suptitle.get_window_extent(renderer)  # type: ignore[union-attr]
    for ax in figure.axes:
        if ax.get_visible():
            assert not title.overlaps(ax.get_tightbbox(renderer)), ax.get_title()


@pytest.mark.parametrize("inches", [6.4, 30.0])
def test_figures_are_sized_for_a_page(tmp_path: Path, inches: float) -> None:
    figure, ax = plt.subplots(figsize=(inches, 3.0))
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title")
    drawn = figure.get_tightbbox().width + 0.2  # inches, padded
    dpi = save_figure(figure, tmp_path / "f.png")
    png = (tmp_path / "f.png").read_bytes()
    width = int.from_bytes(png[16:20], "big")
    if drawn * DPI <= MAX_WIDTH_PX:  # the tight box is what the PNG spans
        assert dpi == DPI
    else:  # capped: as wide as a page allows, give or take a dot
        assert dpi < DPI and MAX_WIDTH_PX - dpi <= width <= MAX_WIDTH_PX
    # Shown at its drawn size in inches (tight box, labels included) whatever the dpi.
    assert display_width(png, dpi) == pytest.approx(drawn * 96, abs=2)
    assert len(png) < 300_000
