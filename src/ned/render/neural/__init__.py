"""The paper's neural face renderer (Head2Head++ derived); see docs/neural_renderer.md.

Public API (imported lazily, torch loads on first use):
``NeuralRenderer`` (streaming inference), ``RendererConfig`` / ``TrainConfig`` /
``preset``, ``train_renderer``, ``prepare_clip``, ``RendererClip``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "NeuralRenderer": "ned.render.neural.infer",
    "RendererConfig": "ned.render.neural.config",
    "TrainConfig": "ned.render.neural.config",
    "preset": "ned.render.neural.config",
    "train_renderer": "ned.render.neural.train",
    "prepare_clip": "ned.render.neural.prepare",
    "RendererClip": "ned.render.neural.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
