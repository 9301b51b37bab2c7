"""The stage wrapper and the stages package: garbage collection and imports in a stage process."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

# Imports as `python -m stages.x` does (the package first), then a stage body that reports
# whether the collector runs and whether the imported modules were frozen out of its sight.
PROBE = """
import gc
import stages
import noisereg.experiments.reference.run
during_imports = gc.isenabled()
from noisereg.cli import run_stage
seen = []
run_stage("probe", lambda: seen.append((gc.isenabled(), gc.get_freeze_count())))
print(during_imports, seen[0][0], seen[0][1] > 100_000, gc.get_freeze_count() >= seen[0][1])
"""


def test_stage_imports_skip_the_collector_and_the_stage_body_runs_with_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-1000:]
    # Off during the imports; on while the stage runs (its own garbage is collected), with
    # the imported modules frozen; frozen again (never fewer objects) before the exit.
    assert result.stdout.split() == ["False", "True", "True", "True"]


# A training stage that needs neither Keras nor scikit-learn, then Keras used as train does.
KERAS_PROBE = """
import sys
import stages.sweep
skipped = [name for name in ("keras", "sklearn", "tensorflow") if name not in sys.modules]
import keras
import tensorflow as tf
from noisereg.data.reference import make_split
from noisereg.params import load_params
make_split(load_params().data)
loaded = (
    keras.optimizers.Adam.__name__,
    tf.keras.layers.Dense.__name__,
    sys.modules["keras.src.optimizers"] is not None,
    "sklearn" in sys.modules,
)
finders = [type(finder).__name__ for finder in sys.meta_path if "Keras" in type(finder).__name__]
print(skipped, loaded, finders)
"""


def test_stage_imports_skip_keras_and_sklearn_until_a_stage_uses_them() -> None:
    result = subprocess.run(
        [sys.executable, "-c", KERAS_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-1000:]
    # sweep loads TensorFlow without TensorFlow's eager Keras import and without
    # scikit-learn; both still load, complete, when code asks for them; the finder that
    # skipped the Keras preload has removed itself.
    assert result.stdout.strip() == "['keras', 'sklearn'] ('Adam', 'Dense', True, True) []"
