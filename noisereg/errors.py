"""Errors a stage reports as one line (see `cli.run_stage`) that belong to no single module."""


class ComputeError(RuntimeError):
    """The compute backend is unavailable (for example, the Dask scheduler is unreachable)."""
