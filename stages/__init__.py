"""The DVC stage scripts, each run as `python -m stages.<name>` (see dvc.yaml).

Python imports this package before the stage module, so this is where the garbage
collector is switched off for the stage's imports: TensorFlow, Keras, scikit-learn and
pandas create ~700,000 objects, none of them garbage, and every full collection during
the imports walks all of them again (0.9 s of a grid_search start of 4.6 s, measured).
`noisereg.cli.run_stage` freezes what the imports built and switches collection back on.
"""

import gc

gc.disable()
