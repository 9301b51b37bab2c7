"""What every stage script shares: one-line errors, exit codes and timing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from noisereg.errors import ComputeError
from noisereg.io import InputError
from noisereg.params import ParamsError
from noisereg.process_setup import finish_stage_imports

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; turn expected failures into one line on stderr and exit 2 (or 3)."""
    finish_stage_imports()
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
    print(f"[{name}] done in {seconds:.1f} s", file=sys.stderr)
    # Outputs are written and closed by now; Python's shutdown need not walk them again.
    finish_stage_imports()
