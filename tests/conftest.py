"""Shared fixtures: the sample clips, their analyses (computed once per session), and
small generated videos."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _analysis_cache(tmp_path_factory):
    """Keep the analysis cache of every test run inside pytest's temporary folder."""
    os.environ["NED_CACHE_DIR"] = str(tmp_path_factory.mktemp("ned-cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def single_face_path() -> Path:
    return DATA / "single_face.mp4"


@pytest.fixture(scope="session")
def carphone_path() -> Path:
    return DATA / "carphone.mp4"


@pytest.fixture(scope="session")
def no_face_path() -> Path:
    return DATA / "no_face.mp4"


@pytest.fixture(scope="session")
def single_face_track(single_face_path):
    from ned.analysis import analyze

    return analyze(single_face_path)


@pytest.fixture(scope="session")
def carphone_track(carphone_path):
    from ned.analysis import analyze

    return analyze(carphone_path)


def make_video(path: Path, frames: list[np.ndarray] | np.ndarray, fps: int = 25,
               pix_fmt: str = "yuv420p", codec: str = "libx264") -> Path:
    """Encode (H, W, 3) uint8 RGB frames into a small test video."""
    frames = list(frames)
    h, w = frames[0].shape[:2] if frames else (16, 16)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        for img in frames:
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    """A 10-frame 64x48 moving-gradient clip at 25 fps, no audio."""
    y, x = np.mgrid[0:48, 0:64]
    frames = [np.dstack([(x * 4 + 10 * i) % 256, y * 5, np.full_like(x, 128)]).astype(np.uint8)
              for i in range(10)]
    return make_video(tmp_path / "tiny.mp4", frames)
