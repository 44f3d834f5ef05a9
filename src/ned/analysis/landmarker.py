"""The MediaPipe Face Landmarker, loaded from the bundle shipped inside the package."""

from __future__ import annotations

import contextlib
import ctypes
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


def _c_api(lm: object) -> dict | None:
    """What :meth:`Landmarker._read_c` needs from MediaPipe's ctypes layer (private, so it is
    checked here): the result struct and NumPy views of its landmark and category structs;
    None if this MediaPipe lacks any of it (the public wrapper is used then)."""
    try:
        from mediapipe.tasks.python.components.containers import category_c, landmark_c
        from mediapipe.tasks.python.vision import face_landmarker as fl

        lib = lm._lib  # type: ignore[attr-defined]
        if not (hasattr(lm, "_handle") and hasattr(lib, "MpFaceLandmarkerDetectForVideo")
                and hasattr(lib, "MpFaceLandmarkerCloseResult")):
            return None
        land, cat = landmark_c.MpNormalizedLandmarkC, category_c.MpCategoryC
        return {"result": fl.MpFaceLandmarkerResultC,
                "landmark": np.dtype({"names": ["x", "y", "z"], "formats": [np.float32] * 3,
                                      "offsets": [land.x.offset, land.y.offset, land.z.offset],
                                      "itemsize": ctypes.sizeof(land)}),
                "category": np.dtype({"names": ["score"], "formats": [np.float32],
                                      "offsets": [cat.score.offset],
                                      "itemsize": ctypes.sizeof(cat)})}
    except (ImportError, AttributeError):
        return None


def _c_array(pointer: object, count: int, dtype: np.dtype) -> np.ndarray:
    """A copy of ``count`` C structs at ``pointer`` as a NumPy structured array."""
    if count == 0:
        return np.zeros(0, dtype)
    addr = ctypes.cast(pointer, ctypes.c_void_p).value
    buf = (ctypes.c_char * (count * dtype.itemsize)).from_address(addr)
    return np.frombuffer(buf, dtype).copy()


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
    """The face landmarker: 478 landmarks, 52 blendshapes and a pose per face.

    Args:
        max_faces: how many faces to look for per frame.
        min_confidence: detection, presence and tracking thresholds.
        video: video mode (faces tracked from frame to frame: feed frames in time order);
            False: image mode (every image on its own, ``time_s`` ignored).

    Use as a context manager (or call :meth:`close`).
    """

    def __init__(self, max_faces: int = 2, min_confidence: float = 0.5,
                 video: bool = True) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        logging.getLogger("absl").setLevel(logging.ERROR)
        mpt = tasks_api()
        BaseOptions, vision = mpt.BaseOptions, mpt.vision
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=bundle_bytes()),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        with quiet_stderr():
            self._lm = vision.FaceLandmarker.create_from_options(opts)
        self._last_ms = -1
        self.video = video
        self._c_api = _c_api(self._lm) if video else None

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
        read = self._read_c if self._c_api is not None else self._read_public
        if self._last_ms < 50:  # the first calls log native warnings
            with quiet_stderr():
                faces = read(img, ms)
        else:
            faces = read(img, ms)
        self._last_ms = ms
        out = []
        for xyz, scores, transform in faces:
            lm = (xyz.astype(np.float64) * (w, h, w)).astype(np.float32)
            inside = ((lm[:, 0] >= 0) & (lm[:, 0] < w) & (lm[:, 1] >= 0) & (lm[:, 1] < h))
            out.append(Detection(lm, scores, transform, float(inside.mean())))
        return out

    def _read_public(self, img: object, ms: int) -> list[tuple[np.ndarray, ...]]:
        """Per face: (478, 3) normalised landmarks, (52,) scores, (4, 4) pose, float32."""
        res = self._lm.detect_for_video(img, ms) if self.video else self._lm.detect(img)
        return [(np.array([(p.x, p.y, p.z) for p in face], np.float32),
                 np.array([c.score for c in res.face_blendshapes[i]], np.float32),
                 np.asarray(res.facial_transformation_matrixes[i], np.float32))
                for i, face in enumerate(res.face_landmarks)]

    def _read_c(self, img: object, ms: int) -> list[tuple[np.ndarray, ...]]:
        """:meth:`_read_public`'s values read with NumPy from MediaPipe's C result struct
        (its Python wrapper builds an object per landmark: 0.6 ms a frame)."""
        api = self._c_api
        res = api["result"]()
        self._lm._lib.MpFaceLandmarkerDetectForVideo(self._lm._handle, img._image_ptr, None,
                                                     ms, ctypes.byref(res))
        try:
            out = []
            for i in range(res.face_landmarks_count):
                lms, cats = res.face_landmarks[i], res.face_blendshapes[i]
                xyz = _c_array(lms.landmarks, lms.landmarks_count, api["landmark"])
                scores = _c_array(cats.categories, cats.categories_count, api["category"])
                out.append((np.stack([xyz["x"], xyz["y"], xyz["z"]], 1),
                            np.array(scores["score"], np.float32),
                            np.asarray(res.facial_transformation_matrixes[i].to_numpy(),
                                       np.float32)))
            return out
        finally:
            self._lm._lib.MpFaceLandmarkerCloseResult(ctypes.byref(res))
