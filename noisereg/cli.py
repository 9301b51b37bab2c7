"""What every stage script shares: one-line errors, exit codes and timing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from noisereg.errors import ComputeError
from noisereg.io import InputError, write_text
from noisereg.params import ParamsError

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3
# Wall time of each stage's last successful run, for the report's provenance. Kept out of
# DVC's outputs and deps on purpose: timings differ run to run and must not make any stage
# look changed.
TIMINGS_DIR = Path("reports") / "timings"


def read_timings(directory: Path = TIMINGS_DIR) -> dict[str, float]:
    """Return stage name -> seconds of its last successful run, as recorded by `run_stage`."""
    timings = {}
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            timings[str(record["stage"])] = float(record["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a timing is informative only; an unreadable one is skipped
    return timings


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; turn expected failures into one line on stderr and exit 2 (or 3)."""
    started = time.perf_counter()
    try:
        main()
    except (ParamsError, InputError, ComputeError) as error:
        print(f"error [{name}]: {error}", file=sys.stderr)
        sys.exit(EXIT_UNAVAILABLE if isinstance(error, ComputeError) else EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"[{name}] interrupted; no output was replaced", file=sys.stderr)
        sys.exit(130)
    seconds = time.perf_counter() - started
    write_text(TIMINGS_DIR / f"{name}.json", json.dumps({"stage": name, "seconds": seconds}))
    print(f"[{name}] done in {seconds:.1f} s", file=sys.stderr)
