"""`python -m tinygrad6.experiments.optimizer_compare`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/optimizer_compare.py."""

import sys

from ..chapter6.experiments import optimizer_compare

if __name__ == "__main__":
    optimizer_compare.main()
else:
    sys.modules[__name__] = optimizer_compare  # importing the old name gives the module itself
