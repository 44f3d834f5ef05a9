"""Figures of a FaceTrack: blendshape curves over time and a landmark preview frame."""

from __future__ import annotations

import os

import numpy as np

from ned.atomic import atomic_write
from ned.blendshapes import index_of
from ned.records import FaceTrack

#: Curves drawn by :func:`plot_track`, grouped per panel.
PANELS = (("jawOpen",), ("mouthSmileLeft", "mouthSmileRight"),
          ("browInnerUp", "browDownLeft", "browDownRight", "browOuterUpLeft"),
          ("eyeBlinkLeft", "eyeBlinkRight"))


def plot_track(track: FaceTrack, preview: np.ndarray | None, path: str | os.PathLike) -> None:
    """Write a PNG with the main blendshape curves and, if given, a preview frame.

    Args:
        track: the analysed clip.
        preview: (H, W, 3) uint8 frame whose landmarks (the track's frame of highest
            jawOpen among valid ones, chosen by the caller) are drawn; None to skip.
        path: the PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(PANELS) + (preview is not None)
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.2 * n), squeeze=False)
    t = track.timestamps
    bs = np.where(track.valid[:, None], track.blendshapes, np.nan)
    for ax, names in zip(axes[:, 0], PANELS):
        for name in names:
            ax.plot(t, bs[:, index_of(name)], label=name)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="upper right", fontsize=7)
        ax.set_xlabel("time (s)")
    if preview is not None:
        ax = axes[-1, 0]
        ax.imshow(preview)
        i = preview_index(track)
        if i is not None:
            ax.scatter(track.landmarks[i, :, 0], track.landmarks[i, :, 1], s=0.5, c="lime")
        ax.set_axis_off()
    fig.tight_layout()
    try:
        with atomic_write(path) as tmp:
            fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)


def preview_index(track: FaceTrack) -> int | None:
    """Frame shown in the preview: the first valid frame, or None when there is none."""
    idx = np.flatnonzero(track.valid)
    return int(idx[0]) if len(idx) else None
