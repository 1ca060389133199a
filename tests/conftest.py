"""Hypothesis profiles: "ci" (the default; small example counts so the whole suite runs in minutes on 2 cores) and
"thorough" (many more examples, for a deliberate hunt: HYPOTHESIS_PROFILE=thorough pytest tests/test_ops.py)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,  # timings on a shared 2-core machine vary too much for per-example deadlines
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
