"""The DVC stage scripts, each run as `python -m stages.<name>` (see dvc.yaml).

Python imports this package before the stage module, so this is where a stage process's
imports are made cheaper (noisereg.process_setup says how); `noisereg.cli.run_stage` ends
that once the stage's imports are done.
"""

from noisereg.process_setup import start_stage_imports

start_stage_imports()
