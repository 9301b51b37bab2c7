"""Gaussian-noise regularization study: library behind the DVC pipeline."""

import os

# TensorFlow prints several INFO lines at import; keep its warnings and errors. This must
# run before TF loads, and every stage imports this package first. A user's value wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
