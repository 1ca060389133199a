"""`python -m tinygrad6.tour`, kept as a name: the tour lives in tinygrad6/chapter6/tour.py."""

import sys

from .chapter6 import tour

if __name__ == "__main__":
    tour.main()
else:
    sys.modules[__name__] = tour  # importing the old name gives the module itself
