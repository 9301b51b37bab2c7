"""The studies, one package each, and what they share (protocol.py).

Every study follows one contract: run.py trains, outputs.py owns its files (paths, columns,
read/write), summary.py turns per-seed results into intervals and verdicts, section.py builds
its part of the report, figures.py draws its figures. Studies never import each other.
"""
