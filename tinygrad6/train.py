"""`tinygrad6.train`, kept as a name: the module lives in tinygrad6/chapter6/train.py."""

import sys

from .chapter6 import train

sys.modules[__name__] = train  # importing the old name gives the module itself
