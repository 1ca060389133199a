"""`python -m tinygrad6.experiments.optimizer_paths`, kept as a name: the experiment lives in
tinygrad6/chapter6/experiments/optimizer_paths.py."""

import sys

from ..chapter6.experiments import optimizer_paths

if __name__ == "__main__":
    optimizer_paths.main()
else:
    sys.modules[__name__] = optimizer_paths  # importing the old name gives the module itself
