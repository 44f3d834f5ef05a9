"""ned.editing: the edit stage, which ties the other stages into one streamed pass.

- :func:`edit` / :func:`run_edit` (``api``): clip in, edited clip out.
- :class:`EditConfig` (``config``): every option, grouped by concern, validated on
  construction; :class:`EditReport`: what an edit did; :class:`PassReason`.
- :class:`EditPlanner`, :class:`FramePlan` (``plan``): analysis rows -> per-frame plans
  (edited landmarks, strength, why a frame is passed through); :func:`plan_clip`.
- :class:`FrameRenderer` (``protocol``): the renderer interface, with the warp
  (:class:`WarpRenderer`, ``renderers``) and the neural renderer (``neural``) behind it.
- ``guards`` (time range, head pose, gaps, cuts, lids, folds), ``geometry`` (edited
  landmarks), ``loop`` (decode -> render -> encode), ``commands`` (``ned edit``).

Names are imported lazily, so ``import ned.editing`` does no work.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "edit": "api", "run_edit": "run", "plan_clip": "run",
    "EditConfig": "config", "EditReport": "config", "PassReason": "config",
    "TargetConfig": "config", "TimeRange": "config", "RenderConfig": "config",
    "GuardConfig": "guards",
    "EditPlanner": "plan", "FramePlan": "plan", "PlanConfig": "plan",
    "FrameRenderer": "protocol", "RenderResult": "protocol", "WarpRenderer": "renderers",
    "make_renderer": "renderers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"ned.editing.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ned.editing' has no attribute {name!r}")
