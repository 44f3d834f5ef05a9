"""Fixtures of the manipulator tests: real speech tracks and tiny FaceTracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ned.records import FaceTrack

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def speech_tracks() -> dict[str, dict[str, np.ndarray]]:
    """Blendshapes (T, 52), inner-lip gap (T,), valid (T,) of the two sample talking clips,
    measured with MediaPipe's FaceLandmarker in video mode (see docs/manipulator.md)."""
    z = np.load(DATA / "speech_tracks.npz")
    return {c: {"blendshapes": z[f"{c}_blendshapes"], "lip_gap": z[f"{c}_lip_gap"],
                "valid": z[f"{c}_valid"], "fps": float(z[f"{c}_fps"])}
            for c in ("single_face", "carphone")}


def make_facetrack(blendshapes: np.ndarray, valid: np.ndarray | None = None,
                   fps: float = 30.0) -> FaceTrack:
    """A FaceTrack carrying the given blendshapes (geometry fields zero)."""
    t = len(blendshapes)
    return FaceTrack(landmarks=np.zeros((t, 478, 3), np.float32),
                     landmarks_raw=np.zeros((t, 478, 3), np.float32),
                     blendshapes=blendshapes.astype(np.float32),
                     transforms=np.tile(np.eye(4, dtype=np.float32), (t, 1, 1)),
                     confidence=np.ones(t, np.float32),
                     valid=np.ones(t, bool) if valid is None else valid,
                     timestamps=np.arange(t) / fps, width=64, height=64, fps=fps)
