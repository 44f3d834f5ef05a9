"""Face masks from the landmark mesh."""

from __future__ import annotations

import cv2
import numpy as np

from ned.errors import NedError
from ned.topology import FACE_OVAL, N_LANDMARKS, N_MESH


def face_mask(points: np.ndarray, shape: tuple[int, int], *, erode: int = 0,
              feather: int = 0, dilate: int = 0) -> np.ndarray:
    """Soft mask of the face oval.

    Args:
        points: (478, 2+) landmarks in pixels (x, y first).
        shape: (H, W) of the mask.
        erode: pixels to shrink the oval by (>= 0).
        feather: Gaussian feather width in pixels (>= 0); 0 gives a hard mask.
        dilate: pixels to grow the oval by (>= 0), applied before erosion.

    Returns:
        (H, W) float32 in [0, 1], 1 inside the face.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[0] < N_MESH or points.shape[1] < 2:
        raise NedError(f"face_mask needs ({N_LANDMARKS}, 2) points, got {points.shape}")
    if min(erode, feather, dilate) < 0:
        raise NedError("face_mask: erode, feather and dilate must be >= 0")
    h, w = int(shape[0]), int(shape[1])
    mask = np.zeros((h, w), np.uint8)
    poly = np.round(points[list(FACE_OVAL), :2] * 16).astype(np.int32)
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=4)
    if dilate:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask, k)
    if erode:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
        mask = cv2.erode(mask, k)
    out = mask.astype(np.float32) / 255.0
    if feather:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=feather / 2.0)
    return out


def face_box(points: np.ndarray, scale: float = 1.0) -> tuple[float, float, float, float]:
    """Axis-aligned box around the landmarks, grown by ``scale`` about its centre.

    Args:
        points: (478, 2+) landmarks in pixels.
        scale: growth factor (1 = tight).

    Returns:
        (x0, y0, x1, y1) in pixels (may extend beyond the frame).
    """
    xy = np.asarray(points)[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    c, half = (lo + hi) / 2, (hi - lo) / 2 * scale
    return float(c[0] - half[0]), float(c[1] - half[1]), float(c[0] + half[0]), float(
        c[1] + half[1])
