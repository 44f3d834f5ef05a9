import numpy as np
import pytest

from ned.composite import composite, laplacian_blend
from ned.errors import NedError


def _images():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (96, 128, 3), np.uint8)
    b = rng.integers(0, 255, (96, 128, 3), np.uint8)
    return a, b


def test_blend_known_answers():
    a, b = _images()
    ones, zeros = np.ones((96, 128), np.float32), np.zeros((96, 128), np.float32)
    assert np.abs(laplacian_blend(a, b, ones).astype(int) - b).max() <= 1
    assert np.abs(laplacian_blend(a, b, zeros).astype(int) - a).max() <= 1
    same = laplacian_blend(a, a, np.full((96, 128), 0.5, np.float32))
    assert np.abs(same.astype(int) - a).max() <= 1


def test_blend_is_smooth_across_seam():
    a = np.zeros((64, 64, 3), np.uint8)
    b = np.full((64, 64, 3), 200, np.uint8)
    mask = np.zeros((64, 64), np.float32)
    mask[:, 32:] = 1
    out = laplacian_blend(a, b, mask, levels=4).astype(int)
    assert out[:, 0].max() <= 2 and out[:, -1].min() >= 198
    assert np.abs(np.diff(out[32, :, 0])).max() < 100  # no hard 200-level step


def test_composite_outside_roi_is_source():
    a, b = _images()
    mask = np.zeros((96, 128), np.float32)
    mask[30:60, 40:80] = 1
    out = composite(a, b, mask, (20, 10, 100, 90))
    outside = np.ones((96, 128), bool)
    outside[10:90, 20:100] = False
    assert np.array_equal(out[outside], a[outside])
    assert np.abs(out[45, 60].astype(int) - b[45, 60]).max() <= 3


def test_blend_errors():
    a, b = _images()
    with pytest.raises(NedError):
        laplacian_blend(a, b[:10], np.ones((96, 128), np.float32))


def test_soft_blend_is_the_pyramid_on_a_smooth_mask():
    """On a feathered oval the one alpha blend gives the Laplacian blend (two grey levels),
    and the background exactly where the softened mask is 0."""
    import cv2

    from ned.composite.blend import soft_blend

    rng = np.random.default_rng(1)
    bg = rng.integers(0, 255, (300, 260, 3), np.uint8)
    fg = np.clip(bg.astype(int) + rng.integers(-30, 30, bg.shape), 0, 255).astype(np.uint8)
    m = np.zeros((300, 260), np.uint8)
    cv2.ellipse(m, (130, 150), (80, 100), 0, 0, 360, 255, -1)
    mask = cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), 12)
    soft = soft_blend(bg, fg, mask, 8.0).astype(int)
    diff = np.abs(soft - laplacian_blend(bg, fg, mask, 4))
    assert diff.max() <= 2 and diff.mean() < 0.3
    assert np.array_equal(soft[:5], bg[:5])
    with pytest.raises(NedError):
        soft_blend(bg, fg[:10], mask, 8.0)
