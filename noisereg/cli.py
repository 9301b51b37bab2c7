"""What every stage script shares: one-line errors, exit codes and timing."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

from noisereg.errors import ComputeError
from noisereg.io import InputError
from noisereg.params import ParamsError

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; turn expected failures into one line on stderr and exit 2 (or 3)."""
    # The modules imported so far live until exit, and stages/__init__.py kept the collector
    # off while they loaded: freeze them (no collection walks them again) and collect what
    # the stage itself allocates as usual.
    gc.freeze()
    gc.enable()
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
    # Python's shutdown collects every tracked object once more: ~0.9 s with TensorFlow
    # loaded, ~0.1 s once they are frozen. Outputs are written and closed by now.
    gc.freeze()
