"""Hand masks: the hands the analysis found (:mod:`ned.analysis.hands`, 21 landmarks each)
drawn as their convex hulls grown by the fingers' width, at whatever resolution the mask
is wanted (the edit draws them on a face-sized canvas: :mod:`ned.composite.occlusion`).

A hull grown by ``r`` pixels is the hull filled plus its outline drawn ``2 r + 1`` pixels
thick (round joins: the Minkowski sum with a disk), with no dilation.
"""

from __future__ import annotations

import cv2
import numpy as np

from ned.errors import NedError

#: Subpixel bits of the drawn outlines.
_SHIFT = 4


def draw_hull(mask: np.ndarray, points: np.ndarray, grow: float) -> None:
    """Fill the convex hull of ``points`` into ``mask`` (in place), grown by ``grow``.

    Args:
        mask: (h, w) uint8, set to 1 on the hull.
        points: (N >= 3, 2) pixel coordinates in the mask's frame.
        grow: growth in pixels (0: the hull itself).
    """
    if points.ndim != 2 or points.shape[1] < 2 or len(points) < 3:
        raise NedError(f"hull needs (N>=3, 2) points, got {points.shape}")
    hull = cv2.convexHull(np.round(points[:, :2] * (1 << _SHIFT)).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, _SHIFT)
    r = int(round(grow))
    if r > 0:
        cv2.polylines(mask, [hull], True, 1, 2 * r + 1, cv2.LINE_8, _SHIFT)


def hull_mask(points: np.ndarray, shape: tuple[int, int], grow: int) -> np.ndarray:
    """Filled convex hull of points, grown by ``grow`` pixels.

    Args:
        points: (N, 2) pixel coordinates in the mask's frame.
        shape: (h, w) of the mask.
        grow: growth in pixels (0: none).

    Returns:
        (h, w) uint8 in {0, 1}.
    """
    m = np.zeros(shape, np.uint8)
    draw_hull(m, np.asarray(points, np.float64), grow)
    return m


def draw_hands(mask: np.ndarray, hands: np.ndarray, *, origin: tuple[float, float],
               scale: float, finger_width: float) -> None:
    """Draw hands into a mask (in place).

    Args:
        mask: (h, w) uint8 canvas; its pixel c covers the frame's pixels from
            ``origin + c / scale`` to ``origin + (c + 1) / scale``.
        hands: (K, 21, 2) hand landmarks, frame pixels (rows with NaN are skipped).
        origin: the frame point at the canvas's pixel 0 (x, y).
        scale: canvas pixels per frame pixel.
        finger_width: each hull's growth, as a fraction of its hand's size.
    """
    for hand in hands:
        if not np.isfinite(hand).all():
            continue
        size = float(np.linalg.norm(hand.max(0) - hand.min(0)))
        pts = (hand.astype(np.float64) - origin + 0.5) * scale - 0.5  # pixel centres
        draw_hull(mask, pts, max(1.0, finger_width * size * scale))
