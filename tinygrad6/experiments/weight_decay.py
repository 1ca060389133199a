"""`python -m tinygrad6.experiments.weight_decay`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/weight_decay.py."""

import sys

from ..chapter6.experiments import weight_decay

if __name__ == "__main__":
    weight_decay.main()
else:
    sys.modules[__name__] = weight_decay  # importing the old name gives the module itself
