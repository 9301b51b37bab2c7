"""The batched training engine: many MLPs trained in one compiled TensorFlow graph.

plan.py groups models into chunks and bundles (no TensorFlow); trainer.py compiles and runs
them; loop.py is the compiled training step; randomness.py derives every model's initial
weights and noise stream from its own seed; backends.py runs chunks locally or on Dask;
keras_export.py writes trained weights as Keras models, the reference for semantics.
"""
