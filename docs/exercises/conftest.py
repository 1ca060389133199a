"""Which implementation the exercise tests check: the stubs in this folder (the default; they fail until you fill
them in) or another folder holding files with the same names, chosen with `--impl FOLDER` or the environment
variable EXERCISES_IMPL. `pytest docs/exercises --impl docs/exercises/solutions` checks the solutions."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so that stubs and solutions alike can `import tiny`


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--impl", default=os.environ.get("EXERCISES_IMPL", str(HERE)),
                     help="folder with the exercise files (accumulate.py, topo.py, ...; default: the stubs)")


@pytest.fixture
def load(request: pytest.FixtureRequest):
    """load("sigmoid") imports sigmoid.py from the chosen folder."""
    folder = Path(request.config.getoption("--impl")).resolve()

    def load(name: str) -> ModuleType:
        path = folder / f"{name}.py"
        if not path.exists():
            raise FileNotFoundError(f"exercise file {path} not found; --impl must name a folder holding {name}.py")
        spec = importlib.util.spec_from_file_location(f"exercise_{folder.name}_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
