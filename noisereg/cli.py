"""What every stage script shares: one-line errors, exit codes and timing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from noisereg.io import InputError
from noisereg.params import ParamsError

EXIT_BAD_INPUT = 2


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; turn expected failures into one line on stderr and exit code 2."""
    started = time.perf_counter()
    try:
        main()
    except (ParamsError, InputError) as error:
        print(f"error [{name}]: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"[{name}] interrupted; no output was replaced", file=sys.stderr)
        sys.exit(130)
    print(f"[{name}] done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
