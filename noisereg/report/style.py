"""The report's figure style: headless matplotlib, colour-blind-safe colours, the PNG dpi."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # stages run headless; pick the backend before pyplot loads
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from noisereg.io import atomic_path

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
TRAIN_COLOUR, VAL_COLOUR = "#0072B2", "#D55E00"
PLACEMENT_COLOURS = {"input": "#0072B2", "hidden": "#D55E00", "both": "#009E73"}
PROBABILITY_CMAP = "PuOr_r"  # diverging, colour-blind safe, centred on p = 0.5
SCORE_CMAP = "viridis"
# Figures are drawn at 300 dpi and shown at their size in inches (96 CSS px per inch, see
# report.document.display_width), so they are 300-dpi sharp where they are displayed.
DPI = 300

__all__ = ["Figure", "plt"]


def save_figure(figure: Figure, path: Path) -> None:
    """Save a PNG atomically and close the figure."""
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
