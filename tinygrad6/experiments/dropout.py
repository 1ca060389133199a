"""`python -m tinygrad6.experiments.dropout`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/dropout.py."""

import sys

from ..chapter6.experiments import dropout

if __name__ == "__main__":
    dropout.main()
else:
    sys.modules[__name__] = dropout  # importing the old name gives the module itself
