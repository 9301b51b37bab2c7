"""Noise against the alternatives: every regularizer tuned by the same CV, compared paired."""
