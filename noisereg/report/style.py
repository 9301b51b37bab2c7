"""The report's figure style: headless matplotlib, colour-blind-safe colours, the PNG dpi."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # stages run headless; pick the backend before pyplot loads
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

from noisereg.io import atomic_path

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
TRAIN_COLOUR, VAL_COLOUR = "#0072B2", "#D55E00"
PLACEMENT_COLOURS = {"input": "#0072B2", "hidden": "#D55E00", "both": "#009E73"}
PROBABILITY_CMAP = "PuOr_r"  # diverging, colour-blind safe, centred on p = 0.5
SCORE_CMAP = "viridis"
# Figures are drawn at DPI, or less where that would make them wider than MAX_WIDTH_PX (a
# page on a HiDPI screen), and shown at their size in inches (96 CSS px per inch, see
# report.document.display_width). The PNGs are committed with reports/report.md, so they
# are kept to what a page needs: each well under 300 KB.
DPI = 150
MAX_WIDTH_PX = 1600

__all__ = ["Figure", "plt"]


def save_figure(figure: Figure, path: Path) -> float:
    """Save a PNG atomically, close the figure and return the dpi it was drawn at.

    The image is stored with a palette of 256 colours (no dithering): the figures are flat
    colours, lines and colour maps of 256 entries, and a palette PNG is a third the size
    (the decision maps: 731 -> 201 KB).
    """
    # The tight box (plus savefig's 0.1-inch pad) is what the PNG spans, labels included.
    inches = figure.get_tightbbox().width + 2 * 0.1
    dpi = min(DPI, MAX_WIDTH_PX // inches)
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    plt.close(figure)
    image = Image.open(drawn).convert("RGB")
    palette = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    with atomic_path(path) as temp:
        palette.save(temp, format="png", optimize=True)
    return dpi
