"""Short texts of values, for reprs, error messages and graph labels."""

from __future__ import annotations

from typing import Any

import numpy as np


def preview(array: np.ndarray, max_chars: int = 60) -> str:
    """A short text of an array's values: the values themselves when they fit, else a summary."""
    if array.size <= 8:
        text = np.array2string(array, precision=4, separator=", ", max_line_width=10_000).replace("\n", "")
        if len(text) <= max_chars:
            return text
    if array.size == 0 or array.dtype.kind not in "fiub":
        return f"<{array.size} values>"
    a = array.astype(np.float64, copy=False)
    return f"<mean={a.mean():.4g} std={a.std():.4g} min={a.min():.4g} max={a.max():.4g}>"


def shorten(value: Any, limit: int = 40) -> str:
    """value (repr of a non-string) cut to `limit` characters, ending in "..." when cut (for messages, labels)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
