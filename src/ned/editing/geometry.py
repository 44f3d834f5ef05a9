"""Edited geometry for ``ned.edit``: the face model fitted on the first frames of the face,
then measured landmarks moved to edited expressions block by block.

The fit needs only the first seconds of the track, so the edit can start rendering while
the rest of the clip is still being analysed; the per-block geometry is local to its
frames, so memory does not grow with the clip.
"""

from __future__ import annotations

import numpy as np

from ned import topology as tp
from ned.facemodel.fit import TrackFit, normalise_clip
from ned.facemodel.pose import Pose


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
    dst[v] = keep_mouth_opening(lm[v] + gain * (moved - lm[v]), lm[v])
    return dst


#: (upper, lower) inner-lip point pairs, from the right mouth corner to the left.
INNER_LIP_PAIRS = ((191, 95), (80, 88), (81, 178), (82, 87), (13, 14), (312, 317), (311, 402),
                   (310, 318), (415, 324))


def keep_mouth_opening(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Give the edited lips the measured opening: speech is how far the lips part.

    Each inner-lip pair (:data:`INNER_LIP_PAIRS`) is moved symmetrically along the
    mouth's down axis (perpendicular to the line through the mouth corners) until its
    opening equals the reference's; the pair's midpoint, and so the edit's lip shape and
    position, is kept.

    Args:
        points: (T, 478, 3) edited landmarks, pixels.
        reference: (T, 478, 3) measured landmarks, pixels.

    Returns:
        (T, 478, 3) float32 landmarks.
    """
    out = np.array(points, np.float32, copy=True)
    ref = np.asarray(reference, np.float32)
    a, b = out[:, tp.MOUTH_CORNER_RIGHT, :2], out[:, tp.MOUTH_CORNER_LEFT, :2]
    along = (b - a) / np.maximum(np.linalg.norm(b - a, axis=-1, keepdims=True), 1e-6)
    down = np.stack([-along[:, 1], along[:, 0]], -1)
    down = down * np.sign(down[:, 1:2] + 1e-12)  # image y points down
    up, low = np.array(INNER_LIP_PAIRS).T
    gap = ((out[:, low, :2] - out[:, up, :2]) * down[:, None]).sum(-1)        # (T, 9)
    want = ((ref[:, low, :2] - ref[:, up, :2]) * down[:, None]).sum(-1)
    fix = (0.5 * (want - gap))[..., None] * down[:, None]
    out[:, up, :2] -= fix
    out[:, low, :2] += fix
    return out
