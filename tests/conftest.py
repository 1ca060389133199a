"""Shared test set-up. Hypothesis profiles: "ci" (the default; small example counts so the whole suite runs in
minutes on 2 cores) and "thorough" (many more examples, for a deliberate hunt: HYPOTHESIS_PROFILE=thorough pytest
tests/engine/test_ops_*.py tests/test_functional.py). Fixtures: `browser` (headless Chromium through playwright; skips
without them) and `digits` (scikit-learn's 8x8 digits as the experiments load them)."""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

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


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as e:  # a Chromium that cannot start here is an environment problem, not a failure
            pytest.skip(f"chromium could not start: {e}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def digits():
    from tinygrad6.chapter6.experiments.data import load_data

    return load_data("digits")
