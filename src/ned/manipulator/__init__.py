"""ned.manipulator: the 3D-based Emotion Manipulator (translate expression sequences).

Public API (see docs/manipulator.md)::

    from ned.manipulator import load_manipulator, translate, Target
    manip = load_manipulator()          # shipped default (None) or a checkpoint path
    y = translate(manip, x, valid, emotion="happy", intensity=1.0, seed=0)

Submodules are imported lazily so ``import ned.manipulator`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Manipulator", "Target", "load_manipulator", "translate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ned.manipulator import infer

        return getattr(infer, name)
    raise AttributeError(f"module 'ned.manipulator' has no attribute {name!r}")
