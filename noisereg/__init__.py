"""Gaussian-noise regularization study: library behind the DVC pipeline."""

import os

# TensorFlow prints several INFO lines at import; keep its warnings and errors. This must
# run before TF loads, and every stage imports this package first. A user's value wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's default CPU allocator hands each multi-MB activation tensor of the training
# loop to malloc, which maps fresh pages for it and unmaps them when it is freed: every
# elementwise op then page-faults through its output (measured: a third of a grid chunk's
# time, most of it system time). The BFC allocator keeps freed blocks for reuse. Values
# are unchanged (tests/test_engine.py checks the setting is in effect in a stage process).
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

__version__ = "0.1.0"
