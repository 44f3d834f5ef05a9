"""Edited geometry for ``ned.edit``: the face model fitted on the first frames of the face,
then measured landmarks moved to edited expressions block by block.

The fit needs only the first seconds of the track, so the edit can start rendering while
the rest of the clip is still being analysed; the per-block geometry is local to its
frames, so memory does not grow with the clip.
"""

from __future__ import annotations

import numpy as np

from ned.facemodel.fit import TrackFit, fit_track, normalise_clip
from ned.facemodel.pose import Pose
from ned.records import FaceTrack

ADAPT = True


def fit_frames(landmarks: np.ndarray, blendshapes: np.ndarray, size: tuple[int, int],
               fps: float = 30.0) -> TrackFit:
    """Fit the face model (identity, the actor's own offsets) on some valid frames.

    Args:
        landmarks: (N, 478, 3) measured landmarks, pixels (N >= 1).
        blendshapes: (N, 52) measured blendshapes.
        size: (width, height) of the frames.
        fps: frame rate (metadata only).

    Returns:
        A :class:`TrackFit` over those frames (use its model and identity).
    """
    n = len(landmarks)
    lm = np.asarray(landmarks, np.float32)
    sub = FaceTrack(landmarks=lm, landmarks_raw=lm,
                    blendshapes=np.asarray(blendshapes, np.float32),
                    transforms=np.tile(np.eye(4, dtype=np.float32), (n, 1, 1)),
                    confidence=np.ones(n, np.float32), valid=np.ones(n, bool),
                    timestamps=np.arange(n, dtype=np.float64) / fps, width=int(size[0]),
                    height=int(size[1]), fps=float(fps))
    return fit_track(sub, adapt=ADAPT)


def edited_landmarks(fit: TrackFit, landmarks: np.ndarray, valid: np.ndarray,
                     old: np.ndarray, new: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Measured landmarks moved from the measured to the edited expressions.

    Each valid frame's pose is estimated against the fitted model; the model's
    displacement between ``old`` and ``new`` (times ``gain``) is added to the measured
    landmarks. Invalid frames are returned as given.

    Args:
        fit: the clip's fitted model (:func:`fit_frames`).
        landmarks: (n, 478, 3) measured landmarks, pixels.
        valid: (n,) bool.
        old: (n, 52) measured blendshapes.
        new: (n, 52) edited blendshapes.
        gain: factor on the displacement.

    Returns:
        (n, 478, 3) float32 edited landmarks, pixels.
    """
    lm = np.asarray(landmarks, np.float32)
    dst = lm.copy()
    v = np.asarray(valid, bool)
    if not v.any():
        return dst
    b = np.clip(np.asarray(old, np.float64)[v], 0.0, 1.0)
    pose, _ = normalise_clip(lm[v].astype(np.float64), b, fit.model.rig, fit.model.offsets,
                             fit.identity)
    part = TrackFit(model=fit.model, identity=fit.identity,
                    pose=Pose(pose.rotation.astype(np.float32), pose.scale.astype(np.float32),
                              pose.translation.astype(np.float32)),
                    expressions=np.asarray(old, np.float32)[v], landmarks=lm[v],
                    valid=np.ones(int(v.sum()), bool), size=fit.size)
    moved = part.landmarks_for(np.asarray(new, np.float32)[v])
    dst[v] = lm[v] + gain * (moved - lm[v])
    return dst
