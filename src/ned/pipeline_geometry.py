"""Edited geometry for ``ned.edit``, computed chunk by chunk so memory does not grow
with the clip's length.

The face model is fitted once on at most ``max_fit_frames`` evenly spaced valid frames;
then, streaming the record's landmarks in chunks, each chunk's poses are estimated and
its landmarks are moved to the edited expressions with the fitted model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ned.facemodel.fit import TrackFit, fit_track, normalise_clip
from ned.facemodel.pose import Pose
from ned.records import FaceTrack, iter_rows

ADAPT = True


@dataclass(frozen=True)
class ClipGeometry:
    """What the per-chunk geometry needs from a clip (all small, (T, 52) at most).

    Attributes:
        path: the FaceTrack record file.
        valid: (T,) bool.
        old: (T, 52) float32 measured blendshapes.
        new: (T, 52) float32 edited blendshapes.
        fit: the model fitted on a subsample (its per-frame fields cover that subsample).
        gain: factor on the geometric displacement (the warp renderer's expressiveness).
    """

    path: str
    valid: np.ndarray
    old: np.ndarray
    new: np.ndarray
    fit: TrackFit
    gain: float = 1.0


def fit_subsample(path: str | os.PathLike, fields: dict, max_fit_frames: int = 1200) -> TrackFit:
    """Fit the face model on at most ``max_fit_frames`` evenly spaced valid frames.

    Args:
        path: FaceTrack record.
        fields: the record's small fields (valid, blendshapes, timestamps, width, height, fps).
        max_fit_frames: frames used for the fit.

    Returns:
        A :class:`TrackFit` over the subsample.
    """
    idx = np.flatnonzero(fields["valid"])
    if len(idx) > max_fit_frames:
        idx = idx[np.linspace(0, len(idx) - 1, max_fit_frames).round().astype(int)]
    want = np.zeros(len(fields["valid"]), bool)
    want[idx] = True
    rows = [r[want[s:s + len(r)]] for s, r in iter_rows(path, "landmarks")]
    lm = np.concatenate(rows).astype(np.float32)
    n = len(idx)
    sub = FaceTrack(landmarks=lm, landmarks_raw=lm, blendshapes=fields["blendshapes"][idx],
                    transforms=np.tile(np.eye(4, dtype=np.float32), (n, 1, 1)),
                    confidence=np.ones(n, np.float32), valid=np.ones(n, bool),
                    timestamps=fields["timestamps"][idx], width=fields["width"],
                    height=fields["height"], fps=fields["fps"])
    return fit_track(sub, adapt=ADAPT)


def iter_geometry(geo: ClipGeometry, chunk: int = 256
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Per frame: (index, measured landmarks (478, 3), edited landmarks (478, 3)) pixels.

    Invalid frames yield their stored (zero) landmarks for both.
    """
    fit = geo.fit
    for start, lm in iter_rows(geo.path, "landmarks", chunk):
        n = len(lm)
        sl = slice(start, start + n)
        v = geo.valid[sl]
        lm = lm.astype(np.float32)
        dst = lm.copy()
        if v.any():
            b = np.clip(geo.old[sl][v].astype(np.float64), 0.0, 1.0)
            pose, _ = normalise_clip(lm[v].astype(np.float64), b, fit.model.rig,
                                     fit.model.offsets, fit.identity)
            part = TrackFit(model=fit.model, identity=fit.identity,
                            pose=Pose(pose.rotation.astype(np.float32),
                                      pose.scale.astype(np.float32),
                                      pose.translation.astype(np.float32)),
                            expressions=geo.old[sl][v].astype(np.float32), landmarks=lm[v],
                            valid=np.ones(int(v.sum()), bool), size=fit.size)
            moved = part.landmarks_for(geo.new[sl][v].astype(np.float32))
            dst[v] = lm[v] + geo.gain * (moved - lm[v])
        for k in range(n):
            yield start + k, lm[k], dst[k]
