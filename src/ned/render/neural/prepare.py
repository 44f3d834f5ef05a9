"""Turn a video into a :class:`~ned.render.neural.data.RendererClip` (aligned crops,
conditioning images, masks, crop-space landmarks)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ned.errors import NedError
from ned.render.neural.data import RendererClip

#: conditioner(points (478, 3) crop pixels, size) -> ((S,S,9) uint8, (S,S) uint8 mask)
Conditioner = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def default_conditioner() -> tuple[str, Conditioner]:
    """The conditioning function used for training: the face model's
    ``ned.facemodel.conditions.conditioner`` (the same images the edit pipeline renders),
    else the landmark-mesh painter
    (:func:`~ned.render.neural.conditioning.landmark_conditions`)."""
    try:
        from ned.facemodel.conditions import conditioner
    except ImportError:
        from ned.render.neural.conditioning import landmark_conditions

        return "landmark_mesh", landmark_conditions
    return "ned.facemodel.conditions", conditioner


def prepare_clip(path: str | os.PathLike, size: int, *, conditioner: Conditioner | None = None,
                 name: str = "", progress: bool = False) -> RendererClip:
    """Analyse, align and condition every frame of a clip.

    Args:
        path: video file.
        size: crop side S in pixels.
        conditioner: conditioning function (default :func:`default_conditioner`).
        name: actor / clip name (default: the file stem).
        progress: show a progress bar.

    Returns:
        The prepared clip; frames without a face are marked invalid (zero images).

    Raises:
        NedError: unreadable video or no face in any frame.
    """
    from ned.analysis.align import alignment_matrices, transform_points, warp_to_crop
    from ned.facemodel.tracks import track_for_clip
    from ned.io.video import read_frames

    path = Path(path)
    track = track_for_clip(path)
    valid = np.asarray(track.valid, bool)
    if not valid.any():
        raise NedError(f"{path}: no face found in any frame, nothing to train on")
    cname, cond_fn = ("custom", conditioner) if conditioner else default_conditioner()
    t_all = track.n_frames
    mats = np.zeros((t_all, 2, 3))
    mats[valid] = alignment_matrices(track.landmarks[valid], size)
    images = np.zeros((t_all, size, size, 3), np.uint8)
    conds = np.zeros((t_all, size, size, 9), np.uint8)
    masks = np.zeros((t_all, size, size), np.uint8)
    points = np.zeros((t_all, 478, 3), np.float32)
    frames = read_frames(path)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, total=t_all, desc=f"prepare {path.name}", unit="frame")
    for fr in frames:
        t = fr.index
        if t >= t_all or not valid[t]:
            continue
        pts = transform_points(track.landmarks[t], mats[t])
        images[t] = warp_to_crop(fr.image, mats[t], size)
        conds[t], masks[t] = cond_fn(pts, size)
        points[t] = pts
    return RendererClip(images=images, conditions=conds, masks=masks, points=points,
                        valid=valid, name=name or path.stem, conditioner=cname)
