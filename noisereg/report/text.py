"""How the report writes numbers: intervals, signed differences, Markdown escapes."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any


def interval(summary: Mapping[str, Any] | None, digits: int = 3, signed: bool = False) -> str:
    """Return a summary as 'mean [low, high]', or just the mean without a CI.

    A zero spread is not a zero-width interval: every seed gave the same value, and the
    text says so (an interval over test points as well as seeds still has a width then).
    `signed` writes explicit signs, for differences.
    """
    if not summary or summary.get("mean") is None:
        return "n/a"
    number = f"{'+' if signed else ''}.{digits}f"
    text = f"{summary['mean']:{number}}"
    if summary.get("std") == 0 and summary.get("ci_low") == summary.get("ci_high"):
        return text + " (every seed identical)"
    if summary.get("ci_low") is not None:
        text += f" [{summary['ci_low']:{number}}, {summary['ci_high']:{number}}]"
    return text


def signed_interval(summary: Mapping[str, Any]) -> str:
    """Return a difference summary as text with explicit signs."""
    return interval(summary, signed=True)


def markdown_text(value: Any) -> str:
    """Escape text for Markdown tables: HTML special characters and pipes."""
    return html.escape(str(value), quote=False).replace("|", "\\|")
