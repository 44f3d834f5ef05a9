"""The MediaPipe Face Landmarker, loaded from the bundle shipped inside the package."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ned.errors import NedError
from ned.lazy_import import import_skipping


def tasks_api() -> types.ModuleType:
    """``mediapipe.tasks.python``, imported without its drawing and microphone helpers
    (matplotlib, sounddevice: about 0.3 s of start-up, see :mod:`ned.lazy_import`)."""
    return import_skipping("mediapipe.tasks.python",
                           ["matplotlib", "matplotlib.pyplot", "sounddevice"])


def bundle_bytes() -> bytes:
    """The shipped ``face_landmarker.task`` bundle (never downloaded)."""
    return resources.files("ned.assets").joinpath("face_landmarker.task").read_bytes()


@dataclass(frozen=True)
class Detection:
    """One face found in one frame.

    Attributes:
        landmarks: (478, 3) float32; x, y pixels, z pixels (MediaPipe z times width).
        blendshapes: (52,) float32 in [0, 1].
        transform: (4, 4) float32 face transformation matrix.
        confidence: fraction of the face's landmarks inside the frame, in [0, 1].
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray
    transform: np.ndarray
    confidence: float

    @property
    def area(self) -> float:
        lo, hi = self.landmarks[:, :2].min(0), self.landmarks[:, :2].max(0)
        return float(np.prod(np.maximum(hi - lo, 0)))


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence native (C++) log lines written to the process's stderr inside the block."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class Landmarker:
    """Video-mode face landmarker: 478 landmarks, 52 blendshapes and a pose per face.

    Args:
        max_faces: how many faces to look for per frame.
        min_confidence: detection, presence and tracking thresholds.

    Use as a context manager (or call :meth:`close`); feed frames in time order.
    """

    def __init__(self, max_faces: int = 2, min_confidence: float = 0.5) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        logging.getLogger("absl").setLevel(logging.ERROR)
        mpt = tasks_api()
        BaseOptions, vision = mpt.BaseOptions, mpt.vision
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=bundle_bytes()),
            running_mode=vision.RunningMode.VIDEO, num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        with quiet_stderr():
            self._lm = vision.FaceLandmarker.create_from_options(opts)
        self._last_ms = -1

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def detect(self, image: np.ndarray, time_s: float) -> list[Detection]:
        """Faces in one frame.

        Args:
            image: (H, W, 3) uint8 RGB.
            time_s: the frame's time in seconds (made strictly increasing internally).

        Returns:
            The detections, in the landmarker's order.
        """
        import mediapipe as mp

        if self._lm is None:
            raise NedError("landmarker is closed")
        h, w = image.shape[:2]
        ms = max(self._last_ms + 1, int(round(time_s * 1000)))
        img = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        if self._last_ms < 50:  # the first calls log native warnings
            with quiet_stderr():
                res = self._lm.detect_for_video(img, ms)
        else:
            res = self._lm.detect_for_video(img, ms)
        self._last_ms = ms
        out = []
        for i, face in enumerate(res.face_landmarks):
            lm = np.array([(p.x * w, p.y * h, p.z * w) for p in face], np.float32)
            bs = np.array([c.score for c in res.face_blendshapes[i]], np.float32)
            tf = np.asarray(res.facial_transformation_matrixes[i], np.float32)
            inside = ((lm[:, 0] >= 0) & (lm[:, 0] < w) & (lm[:, 1] >= 0) & (lm[:, 1] < h))
            out.append(Detection(lm, bs, tf, float(inside.mean())))
        return out
