"""The data the studies train on: the reference split (reference.py) and the synthetic
generators of fresh draws (synthetic.py)."""
