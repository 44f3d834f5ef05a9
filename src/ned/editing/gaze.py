"""The gaze controls drawn over any renderer: each iris moved inside its eye opening.

The warp moves an iris rigidly with its eye (``ned.render.warp.rigid_iris``), so a gaze
edit is a second, small backward map inside each edited eye opening: the iris disc moves
by the plan's shift (:attr:`ned.editing.plan.FramePlan.gaze`) and the white around it is
compressed ahead of it and stretched behind it, fading to no motion at the lids
(weight = distance to the lids / (distance to the lids + distance outside the iris)).
Pixels outside the eye openings are untouched.
"""

from __future__ import annotations

import numpy as np

from ned.editing.plan import FramePlan
from ned.editing.protocol import FrameRenderer, RenderResult
from ned.topology import LEFT_EYE, LEFT_IRIS, RIGHT_EYE, RIGHT_IRIS

#: (eye contour, iris points) of the subject's right eye, then the left, as in
#: ``FramePlan.gaze``.
EYES = ((RIGHT_EYE, RIGHT_IRIS), (LEFT_EYE, LEFT_IRIS))


def move_irises(image: np.ndarray, src: np.ndarray, dst: np.ndarray, gaze: np.ndarray
                ) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Move each iris of an already edited frame inside its eye opening.

    Args:
        image: (H, W, 3) uint8 edited frame (its eyes at ``dst``'s eye contours, each
            iris where the source's was plus its eye's mean shift).
        src: (478, 3) measured landmarks, pixels.
        dst: (478, 3) edited landmarks, pixels.
        gaze: (2, 2) pixels each iris moves (right eye, then left).

    Returns:
        (the frame, changed box or None) (a copy only when something moved).
    """
    import cv2

    from ned.render.warp import polygon_mask

    out, box = image, None
    h, w = image.shape[:2]
    for (eye, iris), shift in zip(EYES, np.asarray(gaze, np.float64)):
        if float(np.hypot(*shift)) < 0.05:
            continue
        poly = dst[list(eye), :2].astype(np.float64)
        lo = np.maximum(np.floor(poly.min(0)) - 2, 0).astype(int)
        hi = np.minimum(np.ceil(poly.max(0)) + 3, (w, h)).astype(int)
        if (hi - lo).min() < 3:
            continue
        bw, bh = hi - lo
        inside = polygon_mask(poly - lo, (bh, bw))
        if not inside.any():
            continue
        lids = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
        eye_shift = (dst[list(eye), :2] - src[list(eye), :2]).mean(0)
        centre = src[iris[0], :2] + eye_shift + shift - lo
        radius = float(np.linalg.norm(src[list(iris[1:]), :2] - src[iris[0], :2],
                                      axis=1).mean())
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float64)
        outside = np.maximum(np.hypot(xx - centre[0], yy - centre[1]) - radius, 0.0)
        weight = np.where(inside, lids / np.maximum(lids + outside, 1e-6), 0.0)
        mapx = (xx + lo[0] - shift[0] * weight).astype(np.float32)
        mapy = (yy + lo[1] - shift[1] * weight).astype(np.float32)
        if out is image:
            out = image.copy()
        patch = cv2.remap(out, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        region = out[lo[1]:hi[1], lo[0]:hi[0]]
        region[inside] = patch[inside]
        b = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        box = b if box is None else (min(box[0], b[0]), min(box[1], b[1]),
                                     max(box[2], b[2]), max(box[3], b[3]))
    return out, box


class GazeRenderer:
    """A :class:`FrameRenderer` drawing the plan's gaze over another renderer's frame.

    Args:
        base: the renderer that draws the edited face.
    """

    def __init__(self, base: FrameRenderer) -> None:
        self.base = base
        self.single_thread = base.single_thread

    def warm_up(self) -> None:
        self.base.warm_up()

    def reset(self) -> None:
        self.base.reset()

    def render(self, image: np.ndarray, plan: FramePlan) -> RenderResult:
        result = self.base.render(image, plan)
        if plan.gaze is None:
            return result
        out, box = move_irises(result.image, plan.src, plan.dst, plan.gaze)
        if box is None:
            return result
        r = result.roi
        roi = box if r[2] <= r[0] or r[3] <= r[1] else (
            min(r[0], box[0]), min(r[1], box[1]), max(r[2], box[2]), max(r[3], box[3]))
        return RenderResult(out, roi, result.occluded)

    def close(self) -> None:
        self.base.close()
