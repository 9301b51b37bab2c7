"""The DVC stage scripts, each run as `python -m stages.<name>` (see dvc.yaml).

Python imports this package before the stage module, so this is where a stage process's
start is made cheaper; neither change below touches what a stage computes.

- The garbage collector is off for the stage's imports: TensorFlow and pandas create
  ~480,000 objects, none of them garbage, and every full collection during the imports
  walks all of them again (`import stages.grid_search` took 3.2-3.9 s with collection off
  and 3.7-4.8 s with it on, five runs each, measured). `noisereg.cli.run_stage` freezes
  what the imports built and switches collection back on.
- TensorFlow is imported without its eager import of Keras. TensorFlow's `__init__` imports
  `keras.src.optimizers` (inside a try that ignores ImportError) so that Keras' optimizers
  register for SavedModel loading; that import loads all of Keras, and with it
  matplotlib.pyplot. Only `train` uses Keras (noisereg.models imports it, and it loads as
  usual then); for grid_search, sweep, benefit_map and regularizers it was 0.6-0.8 s of a
  ~4.5 s start (measured). No stage loads a SavedModel; tests/test_cli.py checks that
  Keras and `tf.keras` still load, complete, when code asks for them.
"""

import gc
import importlib.abc
import importlib.machinery
import sys

gc.disable()

_KERAS_PRELOAD = "keras.src.optimizers"


class _TensorflowWithoutKerasPreload(importlib.abc.MetaPathFinder):
    """Find `tensorflow` as usual, but run its `__init__` with the Keras preload failing.

    A None entry in sys.modules makes importing that name raise ImportError at once, without
    importing its parent packages; the entry exists only while TensorFlow's `__init__` runs.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run_init = spec.loader.exec_module

        def exec_module(module):
            # Removed here, not in find_spec: the import system is still iterating over
            # sys.meta_path there, and removing an entry would skip the finder after it.
            # TensorFlow is imported once per process.
            sys.meta_path.remove(self)
            sys.modules.setdefault(_KERAS_PRELOAD, None)
            try:
                run_init(module)
            finally:
                if sys.modules.get(_KERAS_PRELOAD, False) is None:
                    del sys.modules[_KERAS_PRELOAD]

        spec.loader.exec_module = exec_module
        return spec


if "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _TensorflowWithoutKerasPreload())
