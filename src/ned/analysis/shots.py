"""Shot-cut detection and a cheap appearance signature to keep one person across cuts."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ned.align import alignment_matrices, transform_points

#: Landmarks whose aligned layout characterises a face's shape more than its expression.
SHAPE_POINTS = (33, 133, 362, 263, 168, 6, 1, 98, 327, 10, 234, 454, 70, 300)


def _hs_hist(image_rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    hsv = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1], mask, [16, 8], [0, 180, 0, 256]).ravel()
    return np.sqrt(h / max(h.sum(), 1e-9))  # Hellinger-ready


def hellinger(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance of two square-rooted, normalised histograms, in [0, 1]."""
    return float(np.sqrt(max(0.0, 1.0 - float(np.dot(a, b)))))


@dataclass(frozen=True)
class CutConfig:
    """Shot-cut thresholds.

    Attributes:
        hist: Hellinger distance of whole-frame hue/saturation histograms of two
            consecutive frames above which they belong to different shots.
        pixels: mean absolute difference (grey levels) of 64x36 thumbnails also required.
    """

    hist: float = 0.35
    pixels: float = 25.0


class CutDetector:
    """Flags the first frame of each new shot, one frame at a time."""

    def __init__(self, config: CutConfig | None = None) -> None:
        self.config = config or CutConfig()
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, image: np.ndarray) -> bool:
        """True when ``image`` (H, W, 3) uint8 RGB starts a new shot."""
        small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        cur = (_hs_hist(small), cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32))
        prev, self._prev = self._prev, cur
        if prev is None:
            return False
        return (hellinger(prev[0], cur[0]) > self.config.hist
                and float(np.abs(prev[1] - cur[1]).mean()) > self.config.pixels)


def face_signature(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Appearance and shape signature of one face.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        landmarks: (478, 3) pixels.

    Returns:
        (hist, shape): the face crop's square-rooted hue/saturation histogram (128,) and
        the aligned layout of :data:`SHAPE_POINTS` in units of the crop (28,).
    """
    m = alignment_matrices(landmarks, 64)
    crop = cv2.warpAffine(image, m, (64, 64), flags=cv2.INTER_AREA)
    mask = np.zeros((64, 64), np.uint8)
    mask[12:56, 14:50] = 255
    shape = transform_points(landmarks[list(SHAPE_POINTS), :2], m)[:, :2] / 64.0
    return _hs_hist(crop, mask), shape.ravel()


def signature_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
                       ) -> float:
    """Distance of two :func:`face_signature` results (0 = same; about 0.3 separates people)."""
    return hellinger(a[0], b[0]) + 4.0 * float(np.sqrt(np.mean((a[1] - b[1]) ** 2)))
