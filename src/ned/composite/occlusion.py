"""Occlusion masks: pixels inside the face region that are not face (hands, microphones,
hair...), found by comparing the face's appearance with its own recent past.

The face is cut out in aligned crop space (so it stays put while the head moves), its
colours are normalised for global lighting, and pixels far from a running reference of
the same face are flagged. The mouth interior and the eyes change by themselves (speech,
blinks) and are never used as evidence. The reference is updated only where the face was
seen unoccluded. Occluded pixels are then taken from the source frame, never warped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ned.analysis.align import alignment_matrices, transform_points, warp_from_crop
from ned.topology import FACE_OVAL, LEFT_EYE, LEFT_EYEBROW, LIPS_OUTER, RIGHT_EYE, RIGHT_EYEBROW


@dataclass(frozen=True)
class OcclusionConfig:
    """Options of the occlusion check.

    Attributes:
        size: side of the aligned crop the check runs in.
        threshold: colour distance (0-255 scale, after lighting normalisation) above which
            a pixel differs from the reference face.
        min_area: smallest occluded blob, as a fraction of the crop's face area.
        warmup: valid frames averaged into the first reference.
        update: weight of a new frame in the running reference where the face is seen.
        update_occluded: the same where it is flagged, so lasting changes of the face
            itself (a held smile) are absorbed in a second or two while a passing
            occluder is not.
        mouth_margin: pixels (crop scale) around the lips ignored as evidence (the
            cheeks and folds there change with every smile and word).
        grow: pixels (crop scale) by which detected blobs are grown.
    """

    size: int = 96
    threshold: float = 45.0
    min_area: float = 0.02
    warmup: int = 3
    update: float = 0.05
    update_occluded: float = 0.03
    mouth_margin: int = 10
    grow: int = 3


def _poly_mask(points: np.ndarray, loops: list[tuple[int, ...]], size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    for loop in loops:
        cv2.fillPoly(m, [np.round(points[list(loop), :2]).astype(np.int32)], 255)
    return m


class OcclusionDetector:
    """Per-frame occlusion masks for one tracked face, in time order.

    Call :meth:`__call__` for every valid frame, :meth:`reset` at shot cuts.
    """

    def __init__(self, config: OcclusionConfig | None = None) -> None:
        self.config = config or OcclusionConfig()
        self.reset()

    def reset(self) -> None:
        self._ref: np.ndarray | None = None
        self._n = 0

    def __call__(self, image: np.ndarray, landmarks: np.ndarray,
                 roi: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Occlusion mask of one frame.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            landmarks: (478, 3) tracked landmarks, pixels.
            roi: (x0, y0, x1, y1): return the mask of this box only (None = whole frame).

        Returns:
            (H, W) (or the box's (h, w)) float32 in [0, 1]: 1 where the face is covered
            by something else.
        """
        x0, y0, x1, y1 = roi or (0, 0, image.shape[1], image.shape[0])
        out_shape = (y1 - y0, x1 - x0)
        cfg = self.config
        s = cfg.size
        m = alignment_matrices(landmarks, s)
        crop = cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        pts = transform_points(landmarks, m)
        face = _poly_mask(pts, [FACE_OVAL], s) > 0
        mouth = cv2.dilate(_poly_mask(pts, [LIPS_OUTER], s),
                           np.ones((2 * cfg.mouth_margin + 1,) * 2, np.uint8))
        eyes = cv2.dilate(_poly_mask(pts, [LEFT_EYE, RIGHT_EYE, LEFT_EYEBROW, RIGHT_EYEBROW], s),
                          np.ones((3, 3), np.uint8))
        ignore = (mouth > 0) | (eyes > 0)
        crop = crop * (128.0 / max(float(crop[face].mean()), 1.0))
        if self._ref is None or self._n < cfg.warmup:
            self._ref = crop if self._ref is None else (self._ref * self._n + crop) / (self._n + 1)
            self._n += 1
            return np.zeros(out_shape, np.float32)
        dist = np.linalg.norm(cv2.GaussianBlur(crop - self._ref, (5, 5), 0), axis=2)
        occ = ((dist > cfg.threshold) & face & ~ignore).astype(np.uint8)
        occ = cv2.morphologyEx(occ, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        occ = self._keep_large(occ, cfg.min_area * max(int(face.sum()), 1))
        if occ.any():
            occ = cv2.dilate(occ, np.ones((2 * cfg.grow + 1,) * 2, np.uint8))
        rate = np.where(occ > 0, cfg.update_occluded, cfg.update)[..., None]
        self._ref = (1 - rate) * self._ref + rate * crop
        self._n += 1
        if not occ.any():
            return np.zeros(out_shape, np.float32)
        shifted = m.copy()
        shifted[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
        return np.clip(warp_from_crop(occ.astype(np.float32), shifted, out_shape), 0.0, 1.0)

    @staticmethod
    def _keep_large(mask: np.ndarray, min_pixels: float) -> np.ndarray:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        out = np.zeros_like(mask)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] >= min_pixels:
                out[labels == k] = 1
        return out


def grow_occlusion(occlusion: np.ndarray, reach: int) -> np.ndarray:
    """Occluded pixels grown by ``reach`` pixels, so that no warped pixel samples an
    occluder either.

    Args:
        occlusion: (H, W) float32 occlusion mask in [0, 1].
        reach: growth in pixels (the largest displacement of the edit, at least).

    Returns:
        (H, W) bool, True on and around occluders.
    """
    k = 2 * max(int(reach), 1) + 1
    return cv2.dilate((occlusion > 0.5).astype(np.uint8), np.ones((k, k), np.uint8)) > 0
