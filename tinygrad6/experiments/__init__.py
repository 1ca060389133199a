"""`python -m tinygrad6.experiments NAME` and `python -m tinygrad6.experiments.NAME`, kept as names: one module per
name here runs the experiment, which lives in tinygrad6/chapter6/experiments/."""

from ..chapter6.experiments import NAMES, get

__all__ = ["NAMES", "get"]
