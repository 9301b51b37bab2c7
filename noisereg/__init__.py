"""Gaussian-noise regularization study: library behind the DVC pipeline."""

from noisereg.process_setup import configure_tensorflow_environment

# Before TensorFlow loads: every stage, test and benchmark imports this package first.
configure_tensorflow_environment()

__version__ = "0.1.0"
