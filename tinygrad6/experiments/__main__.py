"""`python -m tinygrad6.experiments NAME [options]`, kept as a name: see tinygrad6/chapter6/experiments/__main__.py."""

from ..chapter6.experiments.__main__ import main

if __name__ == "__main__":
    main()
