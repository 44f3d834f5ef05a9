"""JSON-safe values for the metrics' reports (strict JSON: no NaN, no numpy types), and
the base of their flat score records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, TypeVar

T = TypeVar("T", bound="FlatRecord")


class FlatRecord:
    """Mixin for frozen dataclasses whose fields are all JSON values (no nested records)."""

    def to_json(self) -> dict[str, Any]:
        """The record as a dict, keys in field order."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
        """Inverse of :meth:`to_json`."""
        return cls(**data)


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
