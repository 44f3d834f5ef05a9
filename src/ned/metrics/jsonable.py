"""JSON-safe values for the metrics' reports (strict JSON: no NaN, no numpy types)."""

from __future__ import annotations

import math


def clean(value: object) -> object:
    """Make a value JSON-safe: NaN/inf floats become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
