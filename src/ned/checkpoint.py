"""Reading checkpoints without torch: the JSON sidecar and the tensors as NumPy arrays.

A checkpoint is ``<stem>.safetensors`` (tensors, keys ``<group>/<param name>``) plus
``<stem>.json`` (``{"meta": {...}, ...}``); :mod:`ned.training` writes them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ned.errors import NedError


def read_checkpoint_meta(stem: str | os.PathLike) -> dict[str, Any]:
    """The "meta" mapping of a checkpoint's JSON sidecar (NedError if missing/bad)."""
    js = Path(stem).with_suffix(".json")
    if not js.is_file():
        raise NedError(f"checkpoint config not found: {js}")
    try:
        return json.loads(js.read_text())["meta"]
    except (ValueError, KeyError) as e:
        raise NedError(f"{js} is not a ned checkpoint config ({e.__class__.__name__})") from None


def load_arrays(stem: str | os.PathLike) -> dict[str, np.ndarray]:
    """All tensors of ``<stem>.safetensors`` as NumPy arrays (NedError if missing/bad)."""
    from safetensors.numpy import load_file

    path = Path(stem).with_suffix(".safetensors")
    if not path.is_file():
        raise NedError(f"checkpoint not found: {path}")
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise NedError(f"{path} is not a safetensors file ({e.__class__.__name__})") from None
