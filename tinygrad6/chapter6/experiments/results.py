"""A run's files: its figure (PNG) and its numbers (JSON), each written complete or not at all."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...support import files
from .experiment import Experiment


def finish(experiment: Experiment, out: Path, fig, result: dict[str, Any], started: float) -> dict[str, Any]:
    """Write <out>/<name>.png and <out>/<name>.json (each through `files.replace_file`: complete or not at all, a
    symlink there replaced, not followed); return the result with its file names, run time and "what":
    `experiment.what(result)`, the text of what this run shows."""
    out.mkdir(parents=True, exist_ok=True)
    png, js = f"{experiment.name}.png", f"{experiment.name}.json"
    files.replace_file(out / png, lambda f: fig.savefig(f, format="png", dpi=90))
    result = {"experiment": experiment.name, "title": experiment.title, "what": "", **result,
              "seconds": round(time.perf_counter() - started, 2), "files": [png, js]}
    result["what"] = experiment.what(result)
    files.write_text(out / js, json.dumps(result, indent=2, default=_json_default) + "\n")
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def rounded(values, digits: int = 4) -> list:
    """A list of floats rounded for the JSON (curves of thousands of points stay readable and small)."""
    return [round(float(v), digits) for v in values]
