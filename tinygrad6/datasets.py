"""`tinygrad6.datasets`, kept as a name: the module lives in tinygrad6/chapter6/datasets.py."""

import sys

from .chapter6 import datasets

sys.modules[__name__] = datasets  # importing the old name gives the module itself
