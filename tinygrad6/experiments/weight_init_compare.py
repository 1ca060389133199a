"""`python -m tinygrad6.experiments.weight_init_compare`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/weight_init_compare.py."""

import sys

from ..chapter6.experiments import weight_init_compare

if __name__ == "__main__":
    weight_init_compare.main()
else:
    sys.modules[__name__] = weight_init_compare  # importing the old name gives the module itself
