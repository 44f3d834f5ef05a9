"""Hands found on a few frames and carried between them: every frame comes out once and in
order, far fewer frames are searched than there are, hands agreeing on both sides are
interpolated, a hand coming or going is searched for halfway and carried; the shipped
model survives tiny and bad images."""

from __future__ import annotations

import numpy as np
import pytest

from ned.analysis.hands import HandConfig, HandModel, HandTracker
from ned.errors import NedError

N = 48
ENTER, LEAVE = 13, 31  # the scripted hand is over the face in frames [ENTER, LEAVE)


class Scripted:
    """A hand model that reads the frame's number from the crop's first pixel and
    reports the scripted hand: a 21-point square moving right by 2 crop pixels a frame."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def detect(self, crop: np.ndarray) -> list[np.ndarray]:
        i = int(crop[0, 0, 0])
        self.calls.append(i)
        if not ENTER <= i < LEAVE:
            return []
        t = np.linspace(0, 2 * np.pi, 21, endpoint=False)
        return [np.stack([60 + 2 * i + 40 * np.cos(t), 90 + 40 * np.sin(t)], 1)
                .astype(np.float32)]

    def close(self) -> None:
        pass


def _run(face, skip=(), cut=None):
    model = Scripted()
    tracker = HandTracker(HandConfig(), model=model)
    out = []
    for i in range(N):
        image = np.full((360, 640, 3), i, np.uint8)
        out += tracker.push(i, image, None if i in skip else face, cut=i == cut)
    out += tracker.flush()
    return out, model


def test_every_frame_once_in_order_and_few_searched(single_face_track):
    face = single_face_track.landmarks[0]
    out, model = _run(face, skip=(40,), cut=44)
    assert [i for i, _ in out] == list(range(N))
    assert len(model.calls) == len(set(model.calls)) and len(model.calls) < 0.4 * N
    assert out[40][1] == []  # no face, no hands
    searched = set(model.calls)
    # the scripted hand in frame pixels: crop pixel * step + origin (a static face)
    ref = {i: h[0] for i, h in out if i in searched and h}
    k = sorted(ref)
    step = (ref[k[-1]][0, 0] - ref[k[0]][0, 0]) / (2 * (k[-1] - k[0]))
    for i, hands in out:
        if ENTER + 2 <= i < LEAVE - 2:  # both sides agree: interpolated exactly
            assert len(hands) == 1, i
            want = ref[k[0]] + np.float32([2 * step * (i - k[0]), 0])
            assert np.abs(hands[0] - want).max() < 1e-2, i
        elif ENTER <= i < LEAVE:  # near a change: searched, or carried from both sides
            assert hands, i
        elif i < ENTER - 2 or i >= LEAVE + 2:
            assert hands == [], i


def test_tiny_faces_are_not_searched(single_face_track):
    face = single_face_track.landmarks[0] * np.float32([0.02, 0.02, 1])
    model = Scripted()
    tracker = HandTracker(HandConfig(), model=model)
    out = tracker.push(0, np.zeros((360, 640, 3), np.uint8), face) + tracker.flush()
    assert out == [(0, [])] and model.calls == []


def test_config_is_checked():
    for bad in ({"every": 0}, {"every": 9, "idle_every": 8}, {"max_gap": 0}, {"side": 32},
                {"max_hands": 3}):
        with pytest.raises(NedError):
            HandConfig(**bad)


def test_the_model_survives_tiny_and_bad_images():
    model = HandModel()
    try:
        assert model.detect(np.zeros((8, 8, 3), np.uint8)) == []
        assert model.detect(np.full((192, 192, 3), 90, np.uint8)) == []
        with pytest.raises(NedError):
            model.detect(np.zeros((64, 64), np.uint8))
    finally:
        model.close()
    with pytest.raises(NedError):
        model.detect(np.zeros((64, 64, 3), np.uint8))
