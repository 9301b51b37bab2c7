"""The report renders from fixture results, escapes strings, and works offline in Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from noisereg.data import Split
from noisereg.net import MLPWeights
from noisereg.randomness import glorot_uniform_mlp
from noisereg.report import StudyResults, write_report
from noisereg.stats import summarize
from noisereg.surface import decision_surface

EVIL = "<script>alert(1)</script>"


def fixture_results(split: Split) -> StudyResults:
    rng = np.random.default_rng(0)
    # name -> (hidden units, compared with)
    setup = {
        "baseline": ((8,), None),
        "input_noise": ((8,), "baseline"),
        "deep_baseline": ((4, 4), None),
        EVIL: ((4, 4), "deep_baseline"),
    }
    names = list(setup)
    epochs = np.arange(10, 110, 10)
    variants, histories, weights, per_seed = {}, {}, {}, {}
    for i, name in enumerate(names):
        units, reference = setup[name]
        test = 0.6 + 0.02 * i + rng.normal(0, 0.02, 5)
        train = np.full(5, 0.95)
        per_seed[name] = test
        variants[name] = {
            "replicates": 5,
            "hidden_units": list(units),
            "noise": "none" if reference is None else f"input {0.1 * i:g}",
            "dataset": "reference",
            "compare_to": reference,
            "train_acc": summarize(train),
            "test_acc": summarize(test),
            "test_loss": summarize(rng.uniform(0.5, 0.7, 5)),
            "gap": summarize(train - test),
        }
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
        weights[name] = [glorot_uniform_mlp(s, units) for s in range(3)]
    comparisons = {
        name: {
            "compare_to": reference,
            "diff": summarize(per_seed[name] - per_seed[reference]),
            "p_value": 0.2,
            "p_holm": 0.4,
            "test": "t",
        }
        for name, (_, reference) in setup.items()
        if reference is not None
    }
    cells = pd.DataFrame(
        [
            {"hidden_units": w, "noise": n, "cv_mean": 0.7 + 0.01 * w / 8, "cv_std": 0.1}
            for w in (8, 16)
            for n in (0.1, 0.5)
        ]
    )
    chosen = {
        "cv_mean": 0.72,
        "cv_std": 0.1,
        "cv_se": 0.03,
        "test_acc": summarize([0.6, 0.62, 0.64]),
    }
    grid = {
        "best": {**chosen, "hidden_units": 16, "noise": 0.1},
        "one_se": {**chosen, "hidden_units": 8, "noise": 0.5},
        "cv_scores_per_cell": 5,
    }
    sweep = pd.DataFrame(
        [
            {
                "placement": p,
                "stddev": s,
                "test_acc_mean": 0.6,
                "test_acc_ci_low": 0.55,
                "test_acc_ci_high": 0.65,
                "train_acc_mean": 0.9,
                "replicates": 5,
            }
            for p in ("input", "hidden")
            for s in (0.1, 1.0)
        ]
    )
    return StudyResults(
        title=f"Fixture report {EVIL}",
        confidence=0.95,
        splits={"reference": split},
        variants=variants,
        histories=histories,
        weights=weights,
        comparisons=comparisons,
        grid=grid,
        grid_cells=cells,
        sweep=sweep,
        params_yaml=f"title: {EVIL}\n",
        provenance={"git commit": "abc123", "note": EVIL},
        heatmap_resolution=25,
    )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, split: Split) -> Path:
    directory = tmp_path_factory.mktemp("report")
    write_report(fixture_results(split), directory)
    return directory


def test_outputs_and_markdown_links(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text()
    links = [
        line.split("](")[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")
    ]
    assert len(links) == 5
    for link in links:
        assert link.startswith("figures/") and (report_dir / link).stat().st_size > 10_000
    # Inside fenced code blocks text is literal; everywhere else it must be escaped.
    prose = "".join(markdown.split("```")[0::2])
    assert EVIL not in prose and "&lt;script&gt;" in prose
    for section in (
        "## Summary",
        "## Beyond the reference",
        "## Differences from the reference",
        "## Provenance",
        "ReLU twice",
    ):
        assert section in markdown


def test_discussion_ranks_placements_and_reads_reference_variants(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text()
    beyond = markdown.split("## Beyond the reference")[1].split("## Grid search")[0]
    # input_noise is the only comparison against baseline, so it ranks first.
    assert "input_noise (input 0.1) changed test accuracy most" in beyond
    # deep_baseline is a reference of its own: its gap and its noisy partner are discussed.
    assert "Against deep_baseline (hidden layers 4 x 4)" in beyond
    assert "&lt;script&gt;" in beyond and "vs deep_baseline" in markdown


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


def browser_path() -> str | None:
    """Return a Chromium binary, installing Debian's package when root and it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, capture_output=True, timeout=600).returncode != 0:
            return None
    return shutil.which("chromium")


def test_report_in_headless_chromium(report_dir: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    executable = browser_path()
    if executable is None:
        pytest.skip(
            "no Chromium: not installed and `apt-get install chromium` was not possible here"
        )
    console_errors: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
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
        page.set_viewport_size({"width": 375, "height": 800})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        browser.close()
    assert console_errors == []
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert len(images) == 5 and all(i["w"] > 0 and i["alt"] for i in images)
    # 300-dpi sharp where shown: at least 300 / 96 image pixels per CSS pixel.
    assert all(i["w"] / i["shown"] >= 300 / 96 - 0.01 for i in images)
    # The <script> name shows as text, not markup.
    assert rows == ["baseline", "input_noise", "deep_baseline", EVIL]
    assert script_count == 0
    assert overflow <= 0, "the page scrolls sideways on a narrow screen"
