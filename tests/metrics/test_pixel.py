"""Pixel metrics: known answers on generated images and on generated clip pairs."""

from __future__ import annotations

import numpy as np
import pytest

from ned.io.video import read_frames
from ned.metrics.evaluate import EvalConfig, evaluate
from ned.metrics.pixel import (
    PixelAccumulator,
    PixelScores,
    l2_map,
    mouth_box,
    psnr,
    ssim_map,
)

FAST = EvalConfig(identity=False, emotion=False)


def test_l2_map_known_value():
    a = np.zeros((4, 5, 3), np.uint8)
    b = np.full((4, 5, 3), 4, np.uint8)
    np.testing.assert_allclose(l2_map(a, b), 4 * np.sqrt(3), rtol=1e-6)


def test_ssim_and_psnr_known_values():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    np.testing.assert_allclose(ssim_map(a, a), 1.0, atol=1e-5)
    assert ssim_map(a, 255 - a).mean() < 0
    assert psnr(0.0) == 100.0
    assert psnr(255.0 ** 2) == pytest.approx(0.0)
    assert psnr(1.0) == pytest.approx(48.1308, abs=1e-3)


def test_mouth_box_scales_with_face(single_face_track):
    pts = single_face_track.landmarks[0]
    x0, y0, x1, y1 = mouth_box(pts, (360, 640))
    # 72 px of the 256 crop; the template puts the eye centres 64 px apart
    iod = np.linalg.norm(pts[[33, 133]].mean(0)[:2] - pts[[263, 362]].mean(0)[:2])
    assert x1 - x0 == pytest.approx(72 / 64 * iod, rel=0.15)
    half = pts.copy()
    half[:, :2] *= 0.5
    hx0, hy0, hx1, hy1 = mouth_box(half, (360, 640))
    assert hx1 - hx0 == pytest.approx((x1 - x0) / 2, abs=1.5)
    lips = pts[[61, 291, 0, 17], :2]
    assert x0 < lips[:, 0].min() and lips[:, 0].max() < x1
    assert y0 < lips[:, 1].min() and lips[:, 1].max() < y1


def test_accumulator_identical_and_no_face(single_face_track, single_face_path):
    frame = next(iter(read_frames(single_face_path))).image
    acc = PixelAccumulator()
    acc.update(frame, frame, single_face_track.landmarks[0], single_face_track.landmarks[0])
    r = acc.result()
    assert isinstance(r, PixelScores)
    assert r.apd == r.fapd == r.mapd == r.outside_apd == 0.0
    assert r.face_psnr == 100.0 and r.face_ssim == pytest.approx(1.0, abs=1e-5)
    none = PixelAccumulator()
    none.update(frame, 255 - frame, None, None)
    r = none.result()
    assert r.apd > 0 and r.fapd is None and r.mapd is None
    assert PixelScores.from_json(r.to_json()) == r and list(r.to_json()) == [
        "apd", "fapd", "mapd", "face_psnr", "face_ssim", "outside_apd", "outside_changed"]


def _decoded_apd(a, b) -> float:
    s = n = 0.0
    for fa, fb in zip(read_frames(a), read_frames(b)):
        d = fa.image.astype(np.float64) - fb.image.astype(np.float64)
        s += np.sqrt((d ** 2).sum(-1)).sum()
        n += d.shape[0] * d.shape[1]
    return s / n


def test_identical_clips_give_zero(clips, tracks):
    r = evaluate(clips["source"], clips["source"], FAST, source_track=tracks["source"],
                 edited_track=tracks["source"])
    assert r.pixel.apd == r.pixel.fapd == r.pixel.mapd == 0.0
    assert r.pixel.outside_changed == 0.0 and r.pixel.face_ssim == pytest.approx(1)


@pytest.mark.parametrize("kind", ["shift2", "blur"])
def test_shift_and_blur_give_expected_values(clips, tracks, kind):
    r = evaluate(clips["source"], clips[kind], FAST, source_track=tracks["source"],
                 edited_track=tracks[kind])
    p = r.pixel
    # APD equals an independent computation over the decoded frames
    assert p.apd == pytest.approx(_decoded_apd(clips["source"], clips[kind]), rel=1e-6)
    assert p.apd > 1.0 and p.fapd > 1.0 and p.mapd > 1.0
    assert 20 < p.face_psnr < 45 and 0.5 < p.face_ssim < 0.99
    if kind == "blur":  # blur removes detail: the textured face and mouth differ most
        assert p.mapd > p.apd
