"""How a process that runs the study is set up: TensorFlow's environment, import costs, logs.

None of these settings changes what a stage computes; each makes a stage start faster or
print less. They live here, not where they happen to take effect, so they are found in one
place. The measurements behind them are in docs/performance.md.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from types import ModuleType
from typing import Any


def configure_tensorflow_environment() -> None:
    """Set TensorFlow's environment before it loads; a user's own value wins.

    - TensorFlow prints several INFO lines at import; keep its warnings and errors.
    - TensorFlow's default CPU allocator hands each multi-MB activation tensor of the training
      loop to malloc, which maps fresh pages for it and unmaps them when it is freed: every
      elementwise op then page-faults through its output. The BFC allocator keeps freed
      blocks for reuse. Values are unchanged (tests/test_engine.py checks the setting is in
      effect in a stage process).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")


def start_stage_imports() -> None:
    """Make a stage process's imports cheaper; `finish_stage_imports` undoes the first part.

    - The garbage collector is off while the stage imports: TensorFlow and pandas create
      several hundred thousand objects, none of them garbage, and every full collection
      during the imports walks all of them again.
    - TensorFlow is imported without its eager import of Keras. TensorFlow's `__init__`
      imports `keras.src.optimizers` (inside a try that ignores ImportError) so that Keras'
      optimizers register for SavedModel loading; that import loads all of Keras, and with it
      matplotlib.pyplot. Only `train` uses Keras (engine.keras_export imports it, and it loads
      as usual then). No stage loads a SavedModel; tests/test_cli.py checks that Keras and
      `tf.keras` still load, complete, when code asks for them.
    """
    gc.disable()
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _TensorflowWithoutKerasPreload())


def finish_stage_imports() -> None:
    """Freeze what the imports built (no collection walks it again); collect as usual after.

    Called again at the end of a stage: Python's shutdown collects every tracked object once
    more, which costs far less once they are frozen.
    """
    gc.freeze()
    gc.enable()


_KERAS_PRELOAD = "keras.src.optimizers"


class _TensorflowWithoutKerasPreload(importlib.abc.MetaPathFinder):
    """Find `tensorflow` as usual, but run its `__init__` with the Keras preload failing.

    A None entry in sys.modules makes importing that name raise ImportError at once, without
    importing its parent packages; the entry exists only while TensorFlow's `__init__` runs.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run_init = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            # Removed here, not in find_spec: the import system is still iterating over
            # sys.meta_path there, and removing an entry would skip the finder after it.
            # TensorFlow is imported once per process.
            sys.meta_path.remove(self)
            sys.modules.setdefault(_KERAS_PRELOAD, None)  # type: ignore[arg-type]
            try:
                run_init(module)
            finally:
                if sys.modules.get(_KERAS_PRELOAD, False) is None:
                    del sys.modules[_KERAS_PRELOAD]

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


class _OneTracePerShape(logging.Filter):
    """Drop TensorFlow's "frequent retracing" warning about one function of the engine.

    Each tuple of the engine's loop shapes has its own compiled loop, traced once by design.
    TensorFlow's detector keys its count on the Python code object, which every loop shares,
    so a stage that trains many shapes (a benefit map: sizes x placements) reads as one
    function retracing, once per shape. Other functions still warn.
    """

    def __init__(self, qualname: str) -> None:
        super().__init__()
        self.qualname = qualname

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (self.qualname in message and "triggered tf.function retracing" in message)


def drop_retracing_warnings_of(qualname: str) -> None:
    """Filter TensorFlow's retracing warning for the function named `qualname` only."""
    logging.getLogger("tensorflow").addFilter(_OneTracePerShape(qualname))
