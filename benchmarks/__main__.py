"""`python -m benchmarks [--quick | --smoke]`: pin BLAS to one thread before numpy is imported, then run the suite."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from benchmarks.run import main  # noqa: E402  (after the environment is set)

raise SystemExit(main())
