"""`dvc plots show` writes a page that renders without a network (#45).

DVC's default page loads vega, vega-lite and vega-embed from a CDN. .dvc/config's
plots.html_template points DVC at .dvc/plots-offline.html instead: DVC's default page with
those libraries inlined and no scripts placeholder (tools/offline_plots_template.py pins
and rebuilds it). These tests run `dvc plots show` in a scratch repo holding this
checkout's .dvc (config, Vega-Lite templates, the page), read the page DVC writes, and
open it in headless Chromium with the network off.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.browser import headless_chromium
from tests.tiny_pipeline import ROOT, dvc, sh

# A plot on one of the project's own Vega-Lite templates (facets, layers, a symlog scale)
# and one on DVC's default template.
DVC_YAML = """\
plots:
  - sweep.csv:
      template: sweep_lines
      x: stddev
      y: test_acc
  - loss.csv:
      x: epoch
      y: loss
"""
SWEEP_CSV = """\
stddev,placement,test_acc,test_acc_ci_low,test_acc_ci_high
0.0,input,0.80,0.78,0.82
0.1,input,0.83,0.80,0.86
1.0,input,0.75,0.70,0.80
0.0,hidden,0.80,0.78,0.82
0.1,hidden,0.84,0.81,0.87
1.0,hidden,0.70,0.65,0.75
"""
LOSS_CSV = "epoch,loss\n10,0.70\n20,0.52\n30,0.45\n"
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdn.plot.ly", "cdnjs.cloudflare.com")


def generator() -> ModuleType:
    """Import tools/offline_plots_template.py (a script, not a package) for its PINS."""
    spec = importlib.util.spec_from_file_location(
        "offline_plots_template", ROOT / "tools" / "offline_plots_template.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the page `dvc plots show` writes in a repo with this checkout's .dvc."""
    repo = tmp_path_factory.mktemp("plots")
    shutil.copytree(
        ROOT / ".dvc", repo / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp", "config.local")
    )
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "sweep.csv").write_text(SWEEP_CSV)
    (repo / "loss.csv").write_text(LOSS_CSV)
    sh(repo, "git", "init", "-q")
    dvc(repo, "plots", "show", "-o", "shown")
    return repo / "shown" / "index.html"


def test_dvc_fills_the_committed_offline_page(page: Path) -> None:
    template = (ROOT / ".dvc" / "plots-offline.html").read_text(encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    # DVC used the committed page and added nothing to its head (no CDN script tags).
    head, tail = template.split("{plot_divs}")
    assert html.startswith(head.replace("{refresh_tag}", ""))
    assert html.endswith(tail)
    assert html.count("vegaEmbed('#") == 2


def test_the_page_loads_nothing_from_the_network(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I) == []
    assert re.findall(r"""@import|url\(\s*["']?\s*(?:https?:)?//""", html, re.I) == []
    assert [host for host in CDN_HOSTS if host in html] == []


def test_the_page_holds_the_pinned_vega_libraries(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    for name, (version, _) in generator().PINS.items():
        assert f"{name} {version}" in html  # the page's note of what it inlines
        assert f'"{version}"' in html  # the build's own version string
    # Each build's UMD wrapper sets its global: the code itself is in the page.
    for global_set in (".vega={}", ".vegaLite={}", ".vegaEmbed="):
        assert global_set in html


def test_the_page_renders_offline_in_headless_chromium(page: Path) -> None:
    errors: list[str] = []
    requests: list[str] = []
    with headless_chromium() as browser:
        tab = browser.new_context(offline=True).new_page()
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(page.as_uri())
        try:
            tab.wait_for_function(
                "document.querySelectorAll('.vega-embed canvas').length === 2",  # Vega's default
                timeout=60_000,  # seconds alone; generous for a loaded 2-CPU machine
            )
        except Exception as timeout:  # playwright's TimeoutError: say what the page said
            raise AssertionError(f"the plots did not render: {errors or timeout}") from timeout
        sizes = tab.eval_on_selector_all(
            ".vega-embed canvas", "els => els.map(e => [e.width, e.height])"
        )
    assert errors == []
    assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    assert len(sizes) == 2 and all(w > 0 and h > 0 for w, h in sizes)
