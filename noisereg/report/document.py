"""Render the report as one self-contained HTML file and a Markdown file (jinja2).

The document knows no study: each study gives it a `Section` (its template partials, their
context, its figures and its summary sentences), and the stage script chooses the order.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from noisereg.io import write_text
from noisereg.report.style import save_figure
from noisereg.report.text import markdown_text

REPORTS_DIR = Path("reports")


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw to figures/<file>, with its alt text and caption."""

    file: str
    figure: Figure
    alt: str
    caption: str
    in_summary: bool = False  # shown right after the summary instead of in its section


@dataclass(frozen=True)
class Section:
    """One study's part of the report.

    Its partials are templates/<name>.{html,md}.j2, rendered in the study's order, and, when
    `appendix` is set, templates/<name>_appendix.{html,md}.j2 after every section. Its context
    keys are merged into the document's (no two sections may share a key); its figures are
    reachable from the partials as `figures.<name>`.
    """

    name: str
    context: dict[str, Any]
    figures: list[FigureSpec] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    appendix: bool = False


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("noisereg.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_text
    # An interval may wrap between its mean and its brackets, never between its bounds.
    env.filters["nobreak"] = lambda value: str(value).replace(", ", ",\u00a0")
    return env


def display_width(png: bytes, dpi: float) -> int:
    """Return the CSS width (px) that shows a figure drawn at `dpi` at its size in inches.

    CSS has 96 px per inch; an image `dpi` pixels per inch wide shown that size is
    dpi-sharp (narrow screens shrink it further with max-width: 100%).
    """
    pixels = int.from_bytes(png[16:20], "big")  # PNG IHDR: width, big-endian
    return round(pixels * 96 / dpi)


def _draw(spec: FigureSpec, directory: Path) -> dict[str, Any]:
    """Save a figure; return what the templates show of it."""
    dpi = save_figure(spec.figure, directory / spec.file)
    png = (directory / spec.file).read_bytes()
    # The HTML embeds each figure; the Markdown links its file and ignores src and width.
    src = "data:image/png;base64," + base64.b64encode(png).decode()
    return {
        "file": spec.file,
        "alt": spec.alt,
        "caption": spec.caption,
        "src": src,
        "width": display_width(png, dpi),
    }


def build_context(
    title: str,
    sections: list[Section],
    figures: dict[str, list[tuple[FigureSpec, dict[str, Any]]]],
    params_yaml: str,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """Return the template context: the document's keys and every section's own."""
    context: dict[str, Any] = {
        "title": title,
        "summary": [sentence for section in sections for sentence in section.summary],
        "summary_figures": [
            shown for drawn in figures.values() for spec, shown in drawn if spec.in_summary
        ],
        "figures": {
            name: [shown for spec, shown in drawn if not spec.in_summary]
            for name, drawn in figures.items()
        },
        "sections": [{"name": s.name, "appendix": s.appendix} for s in sections],
        "params_yaml": params_yaml,
        "provenance": provenance,
    }
    for section in sections:
        shared = context.keys() & section.context.keys()
        if shared:
            raise ValueError(f"report section {section.name} reuses context keys {sorted(shared)}")
        context.update(section.context)
    return context


def write_report(
    title: str,
    sections: list[Section],
    params_yaml: str,
    provenance: dict[str, Any],
    directory: Path = REPORTS_DIR,
) -> None:
    """Write report.html (self-contained), report.md and figures/*.png under directory."""
    figures = {
        section.name: [(spec, _draw(spec, directory / "figures")) for spec in section.figures]
        for section in sections
    }
    context = build_context(title, sections, figures, params_yaml, provenance)
    html_text = _environment(True).get_template("report.html.j2").render(context)
    markdown = _environment(False).get_template("report.md.j2").render(context)
    write_text(directory / "report.html", html_text)
    write_text(directory / "report.md", markdown)
