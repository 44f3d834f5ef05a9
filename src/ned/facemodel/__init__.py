"""ned.facemodel: face geometry under any expression, and the conditioning images.

Public API (imported lazily, so ``import ned.facemodel`` does no work):

- :func:`fit_track` (``ned.facemodel.fit``): FaceTrack -> :class:`TrackFit`, with
  ``landmarks_for(expressions (T, 52)) -> (T, 478, 3)`` image pixels (measured landmarks +
  model displacement; the measured expressions give back the measured landmarks),
  ``model_landmarks()``, ``displacement()``, ``reprojection_error()``.
- :func:`render_conditions` / :class:`ConditionRenderer` (``ned.facemodel.conditions``):
  (T, 478, 3) image landmarks -> :class:`Conditions` (NMFC, shape, eyes (T, S, S, 3),
  mask (T, S, S), float32 in [0, 1]) in aligned crop space; :func:`crop_matrices`.
- :class:`FaceModel` (``ned.facemodel.model``): identity + expressions (T, E) + :class:`Pose`
  -> image-space vertices (T, V, 3); backends :class:`RigFaceModel` (MediaPipe topology,
  52 blendshapes) and :class:`FlameModel` (``ned.facemodel.flame``, 51 = jaw + 50).
- :func:`load_rig` / :class:`Rig` (``ned.facemodel.rig``), :func:`load_canonical_mesh`
  (``ned.facemodel.mesh``), :func:`rasterize` (``ned.facemodel.raster``).

See docs/face_model.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "fit_track": "fit", "TrackFit": "fit",
    "render_conditions": "conditions", "ConditionRenderer": "conditions",
    "Conditions": "conditions", "crop_matrices": "conditions",
    "FaceModel": "model", "RigFaceModel": "model", "FlameModel": "flame",
    "Pose": "pose", "fit_similarity": "pose",
    "Rig": "rig", "load_rig": "rig", "load_canonical_mesh": "mesh", "CanonicalMesh": "mesh",
    "rasterize": "raster",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"ned.facemodel.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ned.facemodel' has no attribute {name!r}")
