"""The gaze drawn over a rendered frame: the iris moves inside the eye opening, nothing
outside it changes."""

from __future__ import annotations

import numpy as np

from ned.editing.gaze import move_irises
from ned.topology import LEFT_EYE, LEFT_IRIS, RIGHT_EYE, RIGHT_IRIS


def _eye(lm, contour, iris, cx, cy):
    ang = np.linspace(0, 2 * np.pi, len(contour), endpoint=False)
    lm[list(contour), 0] = cx + 20 * np.cos(ang)
    lm[list(contour), 1] = cy + 9 * np.sin(ang)
    lm[iris[0], :2] = (cx, cy)
    a = np.linspace(0, 2 * np.pi, 4, endpoint=False)
    lm[list(iris[1:]), 0] = cx + 6 * np.cos(a)
    lm[list(iris[1:]), 1] = cy + 6 * np.sin(a)


def test_iris_moves_inside_the_eye_only():
    import cv2

    lm = np.zeros((478, 3), np.float32)
    _eye(lm, RIGHT_EYE, RIGHT_IRIS, 40, 40)
    _eye(lm, LEFT_EYE, LEFT_IRIS, 100, 40)
    img = np.full((80, 140, 3), 150, np.uint8)
    for cx in (40, 100):
        cv2.ellipse(img, (cx, 40), (20, 9), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(img, (cx, 40), 6, (40, 30, 20), -1)
    out, box = move_irises(img, lm, lm, np.array([[4.0, 0.0], [4.0, 0.0]]))
    assert box is not None and out is not img
    dark = out[..., 0] < 90
    xs = np.flatnonzero(dark.any(0))
    left_iris = xs[xs < 70]
    assert np.mean(left_iris) == np.mean(np.flatnonzero((img[..., 0] < 90).any(0))[:13]) + 4 \
        or abs(np.mean(left_iris) - 44) < 1.0
    outside = np.ones(img.shape[:2], bool)
    outside[box[1]:box[3], box[0]:box[2]] = False
    assert np.array_equal(out[outside], img[outside])
    same, none = move_irises(img, lm, lm, np.zeros((2, 2)))
    assert same is img and none is None
