"""Shipped model folders: ``<name>.safetensors`` weights + ``config.json``, never pickles."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file

from ned.errors import NedError


def asset_folder(asset: str) -> Path:
    """A folder inside the package, e.g. ``assets/face_expression``."""
    return Path(str(resources.files("ned") / asset))


def read_model_folder(folder: str | Path | None, asset: str, weights: str,
                      script: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights and config of a model folder.

    Args:
        folder: the folder (None = the shipped ``asset``).
        asset: package-relative folder of the shipped model.
        weights: file name of the weights (safetensors).
        script: the converter that writes the folder (named in the error).

    Returns:
        (state dict, config dict).
    """
    folder = Path(folder) if folder else asset_folder(asset)
    w, cfg = folder / weights, folder / "config.json"
    if not w.is_file() or not cfg.is_file():
        raise NedError(f"model files missing in {folder} (run {script})")
    return load_file(str(w)), json.loads(cfg.read_text())
