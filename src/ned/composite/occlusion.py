"""Occluded pixels of an edited frame: what the analysis found covering the face
(:mod:`ned.analysis.occlusion`: the appearance check's blobs in the aligned face crop, and
the hands' landmarks) drawn into the edit's box, grown by the edit's reach.

Everything is drawn and grown on a face-sized canvas (the box downscaled to at most
``canvas`` pixels a side): the crop's blobs warped onto it, each hand's hull grown by the
fingers' width (:func:`ned.composite.hands.draw_hands`), inside the face's box, then grown
by the edit's largest displacement with one chessboard distance transform, and only then
brought up to the box's pixels (the part of it that holds anything). Occluded pixels are
taken from the source frame, never warped; the blend mask is zero there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ned.align import alignment_matrices
from ned.analysis.occlusion import OcclusionConfig, unpack_mask
from ned.analysis.stream import RowChunk
from ned.composite.hands import draw_hands
from ned.errors import NedError

#: A pixel box (x0, y0, x1, y1), x1 and y1 exclusive.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class MaskConfig:
    """How the edit draws the analysis's occluders.

    Attributes:
        finger_width: growth of each hand's hull, as a fraction of the hand's size.
        canvas: longest side (pixels) of the canvas the mask is drawn and grown on.
    """

    finger_width: float = 0.12
    canvas: int = 160

    def __post_init__(self) -> None:
        if not 0 <= self.finger_width <= 1 or self.canvas < 16:
            raise NedError("mask finger_width must be in [0, 1] and canvas >= 16")


class FrameOccluders:
    """What covers the face in one frame, as the analysis recorded it.

    Args:
        bits: the appearance check's blobs (``RowChunk.occlusion`` row), or None.
        hands: (K, 21, 2) hand landmarks in frame pixels (K may be 0).
        size: side of the crop ``bits`` is of.
        config: how to draw them.
    """

    def __init__(self, bits: np.ndarray | None, hands: np.ndarray, size: int = 96,
                 config: MaskConfig | None = None) -> None:
        self.bits, self.hands, self.size = bits, hands, size
        self.config = config or MaskConfig()

    def __call__(self, image: np.ndarray, landmarks: np.ndarray,
                 roi: Box | None = None) -> np.ndarray:
        """The occlusion mask (not grown) of a box of the frame.

        Args:
            image: (H, W, 3) the frame (only its size is used).
            landmarks: (478, 3) the frame's landmarks (the row's), pixels.
            roi: (x0, y0, x1, y1); None = the whole frame.

        Returns:
            (y1 - y0, x1 - x0) float32 in {0, 1}: 1 where the face is covered.
        """
        roi = roi or (0, 0, image.shape[1], image.shape[0])
        out = np.zeros((max(roi[3] - roi[1], 0), max(roi[2] - roi[0], 0)), np.float32)
        got = self.keep(image, landmarks, roi, 0)
        if got is not None:
            sub, (bx0, by0, bx1, by1) = got
            out[by0:by1, bx0:bx1] = sub
        return out

    def keep(self, image: np.ndarray, landmarks: np.ndarray, roi: Box,
             reach: float) -> tuple[np.ndarray, Box] | None:
        """The pixels of a box an edit must keep: occluded ones and those within
        ``reach`` of them (in x and in y), so no warped pixel samples an occluder.

        Args:
            image: (H, W, 3) the frame (only its size is used).
            landmarks: (478, 3) the frame's landmarks (the row's), pixels.
            roi: (x0, y0, x1, y1) box of the edit.
            reach: growth in pixels (the edit's largest displacement, at least).

        Returns:
            None where nothing is covered; else (sub, box): (h, w) bool, True on and
            around occluders, for the part ``box`` (x0, y0, x1, y1, relative to ``roi``)
            of the edit's box outside which nothing is.
        """
        x0, y0, x1, y1 = roi
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            return None
        canvas, f = self._draw(landmarks, roi)
        if not canvas.any():
            return None
        if reach > 0:  # one chessboard distance transform: the square dilation by reach
            dist = cv2.distanceTransform((canvas == 0).astype(np.uint8), cv2.DIST_C, 3)
            canvas = (dist <= math.ceil(reach * f) + (f < 1)).astype(np.uint8)
        ys, xs = np.nonzero(canvas)
        ch, cw = canvas.shape
        # the box part the canvas's covered pixels (and their interpolation) reach
        bx0 = max(0, math.floor((xs.min() - 1) / f))
        by0 = max(0, math.floor((ys.min() - 1) / f))
        bx1 = min(w, math.ceil((xs.max() + 2) / f))
        by1 = min(h, math.ceil((ys.max() + 2) / f))
        if f >= 1:
            return canvas[by0:by1, bx0:bx1] > 0, (bx0, by0, bx1, by1)
        # box pixel x -> canvas (x + 0.5) f - 0.5: pixel centres line up
        m = np.array([[f, 0, (bx0 + 0.5) * f - 0.5], [0, f, (by0 + 0.5) * f - 0.5]])
        up = cv2.warpAffine(canvas * np.uint8(255), m, (bx1 - bx0, by1 - by0),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return up > 127, (bx0, by0, bx1, by1)

    def _draw(self, landmarks: np.ndarray, roi: Box) -> tuple[np.ndarray, float]:
        """(canvas, f): the occluders on the box's canvas (uint8 {0, 1}), f canvas pixels
        per frame pixel."""
        x0, y0, x1, y1 = roi
        w, h = x1 - x0, y1 - y0
        f = min(1.0, self.config.canvas / max(w, h))
        cw, ch = max(1, math.ceil(w * f)), max(1, math.ceil(h * f))
        canvas = np.zeros((ch, cw), np.uint8)
        if self.bits is not None and self.bits.any():
            crop = unpack_mask(self.bits, self.size) * np.uint8(255)
            m = alignment_matrices(landmarks, self.size)  # frame -> crop
            # canvas pixel c -> frame (c + 0.5) / f - 0.5 + roi origin -> crop
            lin = m[:, :2] / f
            t = m[:, :2] @ np.array([x0 + 0.5 / f - 0.5, y0 + 0.5 / f - 0.5]) + m[:, 2]
            warped = cv2.warpAffine(crop, np.hstack([lin, t[:, None]]), (cw, ch),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            canvas |= (warped > 127).astype(np.uint8)
        if len(self.hands):
            hands = np.zeros_like(canvas)
            draw_hands(hands, self.hands, origin=(x0, y0), scale=f,
                       finger_width=self.config.finger_width)
            # only inside the face's box (a hand beside the face covers nothing of it)
            lo, hi = landmarks[:, :2].min(0), landmarks[:, :2].max(0)
            fx0, fy0 = ((np.floor(lo) - (x0, y0)) * f).astype(int)
            fx1, fy1 = np.ceil((np.ceil(hi) - (x0, y0)) * f).astype(int)
            inside = np.zeros_like(canvas)
            inside[max(fy0, 0):max(fy1, 0), max(fx0, 0):max(fx1, 0)] = 1
            canvas |= hands & inside
        return canvas, f


class TrackOcclusion:
    """The occluders of a streamed analysis, held from the moment the planner reads their
    rows until their frame is rendered: wrap the rows with :meth:`tap`, then ask
    :meth:`at` for each frame, in order (frames asked for drop the ones before them, so
    only what lies between the planner and the render is held).

    Args:
        config: the analysis's occlusion options (the crop's size).
        masks: how to draw them.
    """

    def __init__(self, config: OcclusionConfig | None = None,
                 masks: MaskConfig | None = None) -> None:
        self.size = (config or OcclusionConfig()).size
        self.masks = masks or MaskConfig()
        self._rows: dict[int, tuple[np.ndarray | None, np.ndarray]] = {}
        self.frames = 0  # frames with anything over the face, seen so far

    def tap(self, chunks: Iterable[RowChunk]) -> Iterator[RowChunk]:
        """Pass the chunks through, keeping the occluders of their frames."""
        for c in chunks:
            if c.occlusion is not None and c.hands is not None:
                bits_any = c.occlusion.any(axis=1)
                hand_any = np.isfinite(c.hands[:, :, 0, 0])
                for k in np.flatnonzero(c.valid & (bits_any | hand_any.any(axis=1))):
                    hands = c.hands[k][hand_any[k]].copy()
                    self._rows[c.start + int(k)] = (
                        c.occlusion[k].copy() if bits_any[k] else None, hands)
                    self.frames += 1
            yield c

    def at(self, index: int) -> FrameOccluders | None:
        """Frame ``index``'s occluders (None: nothing covers the face)."""
        for i in [i for i in self._rows if i < index]:
            del self._rows[i]
        row = self._rows.pop(index, None)
        if row is None:
            return None
        return FrameOccluders(row[0], row[1], self.size, self.masks)


def grow_occlusion(occlusion: np.ndarray, reach: int) -> np.ndarray:
    """Occluded pixels grown by ``reach`` pixels (in x and in y), so that no warped pixel
    samples an occluder either.

    Args:
        occlusion: (H, W) float32 occlusion mask in [0, 1].
        reach: growth in pixels (the largest displacement of the edit, at least).

    Returns:
        (H, W) bool, True on and around occluders.
    """
    k = 2 * max(int(reach), 1) + 1
    return cv2.dilate((occlusion > 0.5).astype(np.uint8), np.ones((k, k), np.uint8)) > 0
