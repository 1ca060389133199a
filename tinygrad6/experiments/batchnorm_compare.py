"""`python -m tinygrad6.experiments.batchnorm_compare`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/batchnorm_compare.py."""

import sys

from ..chapter6.experiments import batchnorm_compare

if __name__ == "__main__":
    batchnorm_compare.main()
else:
    sys.modules[__name__] = batchnorm_compare  # importing the old name gives the module itself
