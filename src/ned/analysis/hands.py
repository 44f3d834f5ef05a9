"""Hands near the face, found by the analysis on a few frames and carried between them.

The model is the MediaPipe Hand Landmarker (palm detector + 21 hand landmarks, in its
video (tracking) mode), shipped inside the package (``ned/assets/hand_landmarker.task``,
built from the mediapipe 0.10.21 wheel by ``scripts/build_hand_bundle.py``); nothing is
downloaded. It sees a crop of ``context`` face-box sides around the face, made square
(padded where the frame ends: the model projects its landmarks right only on square
images) and downscaled to at most ``side`` pixels (its palm detector works at 192 px
anyway; measured on the synthetic hand of the tests, the 192 px crop finds it in 40 of
120 frames, the full 380 px crop in 17), and costs 12 to 25 ms a call on the 2-core test
machine whatever the crop's size.

So it runs on key frames only: every ``every`` frames while a hand is near, every
``idle_every`` while none is. Between two key frames that agree (the same hands, each
near its match), every hand's landmarks are interpolated; where they disagree (a hand
came or went) the frame halfway is searched too, down to ``max_gap`` frames, and the
frames left between a search that saw a hand and one that did not get the hand carried
from the searches on both sides by the face's motion (a similarity fitted to the face's
rigid landmarks). This needs the frames up to the next key frame: results come out up to
``idle_every`` frames late, which the edit's planner, which waits for a block of 32 frames
and its context anyway, does not notice.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

from ned.align import TEMPLATE_POINTS, similarity
from ned.analysis.landmarker import quiet_stderr
from ned.errors import NedError

#: Hands a frame's row holds (two found on each side of a carried stretch).
MAX_HANDS = 4
#: Landmarks per hand.
HAND_POINTS = 21


def hand_bundle_bytes() -> bytes:
    """The shipped ``hand_landmarker.task`` bundle (never downloaded)."""
    return resources.files("ned.assets").joinpath("hand_landmarker.task").read_bytes()


@dataclass(frozen=True)
class HandConfig:
    """Options of the hand search.

    Attributes:
        context: side of the searched crop, in face-box sides (the crop is centred on
            the face, so hands entering the face box are found before they cover it).
        side: the crop is downscaled to at most this many pixels a side.
        every: frames between key frames while a hand is near.
        idle_every: frames between key frames while none is (a hand that comes in between
            two of them is found by the searches halfway, three or four more).
        max_gap: where two searches disagree, the frame halfway is searched as long as
            they are more than this many frames apart.
        max_hands: hands looked for.
        min_confidence: detection, presence and tracking thresholds.
        min_side: crops smaller than this (pixels, before downscaling) are not searched.
        min_size: hands whose landmarks span less than this fraction of the face box's
            diagonal are dropped: a hand that small is farther than the face, or no hand
            (carphone.mp4 shows one such false find, at 0.26; the synthetic hand of the
            tests spans 0.45 to 0.61, a real hand beside a face about 0.7 to 1).
    """

    context: float = 2.0
    side: int = 192
    every: int = 4
    idle_every: int = 12
    max_gap: int = 2
    max_hands: int = 2
    min_confidence: float = 0.5
    min_side: int = 32
    min_size: float = 0.35

    def __post_init__(self) -> None:
        if not 1 <= self.every <= self.idle_every <= 64:
            raise NedError("hand search strides need 1 <= every <= idle_every <= 64")
        if self.max_gap < 1 or self.side < 64 or self.context <= 0:
            raise NedError("hand search needs max_gap >= 1, side >= 64 and context > 0")
        if not 1 <= self.max_hands <= MAX_HANDS // 2:
            raise NedError(f"max_hands must be 1..{MAX_HANDS // 2}, got {self.max_hands}")


class HandModel:
    """The hand landmarker in video mode: :meth:`detect` on crops fed in time order."""

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
        self._ms = 0
        self.calls = 0

    def close(self) -> None:
        if self._lm is not None:
            with quiet_stderr():
                self._lm.close()
            self._lm = None

    def detect(self, crop: np.ndarray) -> list[np.ndarray]:
        """Hands in one crop.

        Args:
            crop: (h, w, 3) uint8 RGB.

        Returns:
            One (21, 2) float32 array of crop-pixel landmarks per hand found.
        """
        import mediapipe as mp

        if self._lm is None:
            raise NedError("hand model is closed")
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
            raise NedError(f"hand model needs (h, w, 3) uint8 RGB, got {crop.shape}")
        self.calls += 1
        self._ms += 33  # strictly increasing; the tracker only needs an order
        h, w = crop.shape[:2]
        try:
            with quiet_stderr():
                res = self._lm.detect_for_video(
                    mp.Image(image_format=mp.ImageFormat.SRGB,
                             data=np.ascontiguousarray(crop)), self._ms)
        except (RuntimeError, ValueError):  # mediapipe refuses some images
            return []
        return [np.array([(p.x * w, p.y * h) for p in hand], np.float32)
                for hand in res.hand_landmarks]


class _Frame:
    """A frame waiting for its hands: the search crop and where it lies in the frame."""

    __slots__ = ("index", "landmarks", "crop", "origin", "step", "hands", "searched")

    def __init__(self, index: int, landmarks: np.ndarray, crop: np.ndarray | None,
                 origin: tuple[float, float], step: float) -> None:
        self.index, self.landmarks, self.crop = index, landmarks, crop
        self.origin, self.step = origin, step  # frame = origin + crop pixel * step
        self.hands: list[np.ndarray] = []
        self.searched = False


def face_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) box of the landmarks (pixels)."""
    lo, hi = landmarks[:, :2].min(0), landmarks[:, :2].max(0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


class HandTracker:
    """Hands of every face frame from searches on a few (see the module docstring).

    Feed every frame in order with :meth:`push`; each call returns the frames whose hands
    are now known, in order, as (index, list of (21, 2) float32 frame-pixel landmarks);
    :meth:`flush` returns the rest after the last frame.

    Args:
        config: search options.
        model: the hand model (None: the shipped one, loaded at the first search).
    """

    def __init__(self, config: HandConfig | None = None, model: HandModel | None = None
                 ) -> None:
        self.config = config or HandConfig()
        self._model = model
        self._key: _Frame | None = None  # the last searched frame of the current run
        self._pending: list[_Frame] = []
        self.searched = 0

    def close(self) -> None:
        if self._model is not None:
            self._model.close()

    def push(self, index: int, image: np.ndarray, landmarks: np.ndarray | None,
             cut: bool = False) -> list[tuple[int, list[np.ndarray]]]:
        """Add one frame.

        Args:
            index: the frame's number (frames come in order).
            image: (H, W, 3) uint8 RGB frame.
            landmarks: (478, 3) face landmarks, pixels of ``image``; None without the face.
            cut: a new shot starts at this frame.

        Returns:
            (index, hands) of the frames now known, in order; hands in pixels of
            ``image``.
        """
        out: list[tuple[int, list[np.ndarray]]] = []
        if cut or landmarks is None:
            self._end_run(out)
        if landmarks is None:
            out.append((index, []))
            return out
        f = self._frame(index, image, landmarks)
        if self._key is None:  # the first frame of a run is a key frame
            self._search(f)
            self._key = f
            out.append((f.index, f.hands))
            return out
        self._pending.append(f)
        stride = self.config.every if self._key.hands else self.config.idle_every
        if index - self._key.index >= stride:
            self._search(f)
            self._settle(out)
        return out

    def flush(self) -> list[tuple[int, list[np.ndarray]]]:
        """The frames still held back (after the last frame)."""
        out: list[tuple[int, list[np.ndarray]]] = []
        self._end_run(out)
        return out

    # -- internals ---------------------------------------------------------------------
    def _end_run(self, out: list) -> None:
        """The face is lost or the shot cut: search the last frame held, settle the rest."""
        if self._pending:
            self._search(self._pending[-1])
            self._settle(out)
        self._key = None

    def _settle(self, out: list) -> None:
        """The last pending frame was searched: fill the ones before it, emit them all."""
        b = self._pending[-1]
        self._resolve(self._key, self._pending[:-1], b)
        out.extend((f.index, f.hands) for f in self._pending)
        self._pending = []
        self._key = b

    def _frame(self, index: int, image: np.ndarray, landmarks: np.ndarray) -> _Frame:
        c = self.config
        x0, y0, x1, y1 = face_box(landmarks)
        half = c.context * max(x1 - x0, y1 - y0) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        h, w = image.shape[:2]
        bx0, by0 = int(max(cx - half, 0)), int(max(cy - half, 0))
        bx1, by1 = int(min(cx + half, w)), int(min(cy + half, h))
        crop = None
        step = 1.0
        if min(bx1 - bx0, by1 - by0) >= c.min_side:
            region = image[by0:by1, bx0:bx1]
            side = max(region.shape[:2])  # square (padded where the frame ends): the
            k = min(1.0, c.side / side)   # model projects its landmarks right only then
            n = max(1, round(side * k))
            step = side / n
            crop = np.zeros((n, n, 3), np.uint8)
            rh, rw = (min(n, max(1, round(v / step))) for v in region.shape[:2])
            crop[:rh, :rw] = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA) \
                if k < 1 else region
        return _Frame(index, landmarks, crop, (bx0, by0), step)

    def _search(self, f: _Frame) -> None:
        f.searched = True
        f.hands = []
        if f.crop is None:
            return
        if self._model is None:
            self._model = HandModel(self.config)
        self.searched += 1
        lo, hi = f.landmarks[:, :2].min(0), f.landmarks[:, :2].max(0)
        least = self.config.min_size * float(np.linalg.norm(hi - lo))
        hands = [(h * np.float32(f.step) + np.array(f.origin, np.float32)).astype(np.float32)
                 for h in self._model.detect(f.crop)]
        f.hands = [h for h in hands if _size(h) >= least]
        f.crop = None  # no longer needed

    def _resolve(self, a: _Frame, mids: list[_Frame], b: _Frame) -> None:
        """Hands of the frames strictly between the searched frames ``a`` and ``b``."""
        if not mids:
            return
        pairs = _match(a.hands, b.hands)
        if pairs is not None:  # they agree: interpolate each hand
            for m in mids:
                t = (m.index - a.index) / (b.index - a.index)
                m.hands = [(ha + (hb - ha) * np.float32(t)).astype(np.float32)
                           for ha, hb in pairs]
        elif b.index - a.index > self.config.max_gap:
            k = len(mids) // 2
            self._search(mids[k])
            self._resolve(a, mids[:k], mids[k])
            self._resolve(mids[k], mids[k + 1:], b)
        else:  # a hand came or went in between: carry both sides' hands
            for m in mids:
                m.hands = (_carry(a.hands, a.landmarks, m.landmarks)
                           + _carry(b.hands, b.landmarks, m.landmarks))[:MAX_HANDS]
        for m in mids:
            m.crop = None


def _size(hand: np.ndarray) -> float:
    return float(np.linalg.norm(hand.max(0) - hand.min(0)))


def _match(a: list[np.ndarray], b: list[np.ndarray]
           ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The hands of two searches paired up, or None when they do not agree (other counts,
    or a hand moved by more than its own size)."""
    if len(a) != len(b):
        return None
    if len(a) == 2 and (_dist(a[0], b[1]) + _dist(a[1], b[0])
                        < _dist(a[0], b[0]) + _dist(a[1], b[1])):
        b = [b[1], b[0]]
    pairs = list(zip(a, b))
    if any(_dist(ha, hb) > max(_size(ha), _size(hb)) for ha, hb in pairs):
        return None
    return pairs


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.mean(0) - b.mean(0)))


def _carry(hands: list[np.ndarray], face_from: np.ndarray, face_to: np.ndarray
           ) -> list[np.ndarray]:
    """Hands moved with the face from one frame to another (a similarity of the face's
    rigid landmarks)."""
    if not hands:
        return []
    pts = list(TEMPLATE_POINTS)
    m = similarity(face_from[pts, :2], face_to[pts, :2])
    return [(h @ m[:, :2].T + m[:, 2]).astype(np.float32) for h in hands]
