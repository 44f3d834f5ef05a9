"""Generated clip pairs for the metric tests: a 24-frame cut of single_face.mp4 and
copies of it shifted by 2 px, blurred, one frame shorter, or at another frame rate (written
once per session)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ned.io.video import read_frames
from tests.conftest import DATA, make_video

N_FRAMES = 24


def _frames(n: int = N_FRAMES) -> list[np.ndarray]:
    return [f.image for f in read_frames(DATA / "single_face.mp4", stop=n)]


def shift_right(img: np.ndarray, px: int) -> np.ndarray:
    """Content moved ``px`` pixels right; the left edge column is repeated."""
    return np.concatenate([np.repeat(img[:, :1], px, axis=1), img[:, :-px]], axis=1)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("metric-clips")
    frames = _frames()
    return {
        "source": make_video(d / "source.mp4", frames),
        "shift2": make_video(d / "shift2.mp4", [shift_right(f, 2) for f in frames]),
        "blur": make_video(d / "blur.mp4", [cv2.GaussianBlur(f, (0, 0), 2.0) for f in frames]),
        "short": make_video(d / "short.mp4", frames[:-1]),
        "slow": make_video(d / "slow.mp4", frames, fps=12),
    }


@pytest.fixture(scope="session")
def tracks(clips):
    from ned.analysis import analyze

    return {k: analyze(p) for k, p in clips.items() if k not in ("short", "slow")}
