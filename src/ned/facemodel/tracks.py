"""Analysed records of clips for the face model's builders and tests.

:func:`track_for_clip` uses ``ned.analysis.analyze`` when the analysis stage is installed;
otherwise it runs MediaPipe's FaceLandmarker itself (VIDEO mode, one landmarker per clip,
strictly increasing millisecond timestamps, largest face only, no smoothing), so the rig
builder and the tests do not depend on the analysis stage being finished.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ned.errors import NedError
from ned.records import FaceTrack


def track_for_clip(path: str | os.PathLike) -> FaceTrack:
    """Analyse a clip into a :class:`~ned.records.FaceTrack` (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise NedError(f"video not found: {path}")
    try:
        from ned.analysis import analyze  # type: ignore[attr-defined]
    except ImportError:
        analyze = None
    if analyze is not None:
        return analyze(str(path))
    return _landmark_clip(path)


def _landmarker(bundle: Path):  # noqa: ANN202 - mediapipe types stay local
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bundle)),
        running_mode=vision.RunningMode.VIDEO, num_faces=1,
        output_face_blendshapes=True, output_facial_transformation_matrixes=True)
    return mp, vision.FaceLandmarker.create_from_options(opts)


def _landmark_clip(path: Path) -> FaceTrack:
    from ned.facemodel.mesh import default_bundle
    from ned.io.video import probe, read_frames

    info = probe(path)
    mp, lm = _landmarker(default_bundle())
    rows: list[tuple] = []
    last_ms = -1
    with lm:
        for fr in read_frames(path):
            ms = max(int(round(fr.time * 1000)), last_ms + 1)
            last_ms = ms
            img = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(fr.image))
            res = lm.detect_for_video(img, ms)
            rows.append((fr.time, res))
    t = len(rows)
    w, h = info.width, info.height
    lms = np.zeros((t, 478, 3), np.float32)
    bs = np.zeros((t, 52), np.float32)
    tf = np.tile(np.eye(4, dtype=np.float32), (t, 1, 1))
    valid = np.zeros(t, bool)
    for i, (_, res) in enumerate(rows):
        if not res.face_landmarks:
            continue
        valid[i] = True
        p = np.array([[q.x, q.y, q.z] for q in res.face_landmarks[0]], np.float32)
        lms[i] = p * np.array([w, h, w], np.float32)
        bs[i] = [c.score for c in res.face_blendshapes[0]]
        tf[i] = np.asarray(res.facial_transformation_matrixes[0], np.float32)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return FaceTrack(landmarks=lms, landmarks_raw=lms.copy(), blendshapes=bs, transforms=tf,
                     confidence=valid.astype(np.float32), valid=valid,
                     timestamps=np.array([r[0] for r in rows]), width=w, height=h,
                     fps=info.fps, source=str(path), source_hash=digest)
