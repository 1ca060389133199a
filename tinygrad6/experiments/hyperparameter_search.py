"""`python -m tinygrad6.experiments.hyperparameter_search`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/hyperparameter_search.py."""

import sys

from ..chapter6.experiments import hyperparameter_search

if __name__ == "__main__":
    hyperparameter_search.main()
else:
    sys.modules[__name__] = hyperparameter_search  # importing the old name gives the module itself
