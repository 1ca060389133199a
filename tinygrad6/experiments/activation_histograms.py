"""`python -m tinygrad6.experiments.activation_histograms`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/activation_histograms.py."""

import sys

from ..chapter6.experiments import activation_histograms

if __name__ == "__main__":
    activation_histograms.main()
else:
    sys.modules[__name__] = activation_histograms  # importing the old name gives the module itself
