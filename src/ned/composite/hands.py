"""Hand masks: the MediaPipe Hand Landmarker (palm detector + 21 hand landmarks), run on a
crop around the face, turned into a per-frame mask of hand pixels inside the face box.

The models ship inside the package (``ned/assets/hand_landmarker.task``, built from the
mediapipe 0.10.21 wheel by ``scripts/build_hand_bundle.py``); nothing is downloaded.
Cost: see :class:`HandMasker`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

from ned.analysis.landmarker import quiet_stderr
from ned.errors import NedError


def hand_bundle_bytes() -> bytes:
    """The shipped ``hand_landmarker.task`` bundle (never downloaded)."""
    return resources.files("ned.assets").joinpath("hand_landmarker.task").read_bytes()


@dataclass(frozen=True)
class HandConfig:
    """Options of the hand mask.

    Attributes:
        context: side of the searched crop, in face-box sides (the crop is centred on
            the face, so hands entering the face box are found before they cover it).
        idle_every: while no hand was seen, run the model only every this many frames
            (and on frames where the appearance check finds something).
        max_hands: hands looked for.
        min_confidence: detection, presence and tracking thresholds.
        finger_width: dilation of each hand's hull, as a fraction of the hand's size.
        min_side: crops smaller than this (pixels) are not searched.
    """

    context: float = 2.0
    idle_every: int = 12
    max_hands: int = 2
    min_confidence: float = 0.5
    finger_width: float = 0.12
    min_side: int = 32


def hull_mask(points: np.ndarray, shape: tuple[int, int], grow: int) -> np.ndarray:
    """Filled convex hull of points, grown by ``grow`` pixels.

    Args:
        points: (N, 2) pixel coordinates in the mask's frame.
        shape: (h, w) of the mask.
        grow: dilation radius in pixels (0: none).

    Returns:
        (h, w) uint8 in {0, 1}.
    """
    if points.ndim != 2 or points.shape[1] < 2 or len(points) < 3:
        raise NedError(f"hull needs (N>=3, 2) points, got {points.shape}")
    m = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(m, hull, 1)
    if grow > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    return m


class HandMasker:
    """Per-frame hand masks for one face track, frames fed in time order (VIDEO mode).

    The model sees only a crop of ``context`` face-box sides around the face, and, while
    no hand was found, only every ``idle_every``-th frame. Measured on the 2-core test
    machine (single_face.mp4, 640x360): about 12 ms per searched frame without a hand,
    about 17 ms while a hand is tracked (every frame then); searched every 12th frame while
    no hand is near (and whenever the appearance check flags something), so about 1 ms per
    frame on average while no hand is near the face.
    """

    def __init__(self, config: HandConfig | None = None) -> None:
        self.config = config or HandConfig()
        os.environ.setdefault("GLOG_minloglevel", "2")
        logging.getLogger("absl").setLevel(logging.ERROR)
        from ned.analysis.landmarker import tasks_api

        mpt = tasks_api()
        BaseOptions, vision = mpt.BaseOptions, mpt.vision

        c = self.config
        opts = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=hand_bundle_bytes()),
            running_mode=vision.RunningMode.VIDEO, num_hands=c.max_hands,
            min_hand_detection_confidence=c.min_confidence,
            min_hand_presence_confidence=c.min_confidence,
            min_tracking_confidence=c.min_confidence)
        with quiet_stderr():
            self._lm = vision.HandLandmarker.create_from_options(opts)
        self._ms = -1
        self._seen = False
        self._frame = 0
        self.searched = 0  # frames the model ran on (for cost accounting)

    def close(self) -> None:
        if self._lm is not None:
            with quiet_stderr():
                self._lm.close()
            self._lm = None

    def reset(self) -> None:
        """Forget the last hand (at shot cuts)."""
        self._seen = False

    def warm_up(self) -> None:
        """Run the model once on a blank image (its first run sets up, about 25 ms), before
        any frame: nothing is found, so nothing is tracked into the first frame."""
        import mediapipe as mp

        if self._lm is None or self._ms >= 0:
            return
        blank = np.zeros((self.config.min_side * 2, self.config.min_side * 2, 3), np.uint8)
        self._ms += 33  # strictly increasing, as in :meth:`hands`
        with quiet_stderr():
            self._lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=blank),
                                      self._ms)

    def hands(self, image: np.ndarray, box: tuple[int, int, int, int],
              search: bool = False) -> list[np.ndarray]:
        """Hands near the face box in one frame.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            box: the face box (x0, y0, x1, y1), pixels.
            search: run the model even on an idle frame (something covers the face).

        Returns:
            One (21, 2) float32 array of frame-pixel landmarks per hand found.
        """
        import mediapipe as mp

        if self._lm is None:
            raise NedError("hand masker is closed")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise NedError(f"hand masker needs (H, W, 3) uint8 RGB, got {image.shape}")
        self._frame += 1
        if not (self._seen or search) and (self._frame - 1) % self.config.idle_every:
            return []
        cx0, cy0, cx1, cy1 = self._context(box, image.shape[:2])
        if min(cx1 - cx0, cy1 - cy0) < self.config.min_side:
            return []
        crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
        self.searched += 1
        self._ms += 33  # strictly increasing; the tracker only needs an order
        try:
            with quiet_stderr():
                res = self._lm.detect_for_video(
                    mp.Image(image_format=mp.ImageFormat.SRGB, data=crop), self._ms)
        except (RuntimeError, ValueError):  # mediapipe refuses some images
            self._seen = False
            return []
        h, w = crop.shape[:2]
        out = [np.array([(p.x * w + cx0, p.y * h + cy0) for p in hand], np.float32)
               for hand in res.hand_landmarks]
        self._seen = bool(out)
        return out

    def __call__(self, image: np.ndarray, box: tuple[int, int, int, int],
                 roi: tuple[int, int, int, int], search: bool = False) -> np.ndarray:
        """Hand mask of one frame inside the face box.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            box: the face box (x0, y0, x1, y1); hand pixels outside it are dropped.
            roi: (x0, y0, x1, y1) box the mask is returned in.
            search: run the model even on an idle frame (see :meth:`hands`).

        Returns:
            (h, w) float32 in {0, 1}, (h, w) the roi's size.
        """
        x0, y0, x1, y1 = roi
        out = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.float32)
        hands = self.hands(image, box, search)
        if not hands or out.size == 0:
            return out
        for pts in hands:
            size = float(np.linalg.norm(pts.max(0) - pts.min(0)))
            grow = max(1, round(self.config.finger_width * size))
            out = np.maximum(out, hull_mask(pts - (x0, y0), out.shape, grow))
        bx0, by0, bx1, by1 = (b - o for b, o in zip(box, (x0, y0, x0, y0)))
        inside = np.zeros_like(out)
        inside[max(by0, 0):max(by1, 0), max(bx0, 0):max(bx1, 0)] = 1
        return out * inside

    def _context(self, box: tuple[int, int, int, int],
                 shape: tuple[int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half = self.config.context * max(x1 - x0, y1 - y0) / 2
        h, w = shape
        return (int(max(cx - half, 0)), int(max(cy - half, 0)),
                int(min(cx + half, w)), int(min(cy + half, h)))
