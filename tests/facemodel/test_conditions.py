"""Conditioning images on a real clip, and the ``ned conditions`` command."""

from __future__ import annotations

import numpy as np
import pytest

from ned.blendshapes import INDEX
from ned.cli import main
from ned.errors import NedError
from ned.facemodel.conditions import ConditionRenderer, crop_matrices, render_conditions, to_crop
from ned.facemodel.mesh import load_canonical_mesh

KNOWN = (4, 9, 151, 200, 50, 280, 6, 164)      # front-facing points spread over the face


@pytest.fixture(scope="module")
def conditions(single_face_track):
    lm = single_face_track.landmarks[::12]
    return lm, render_conditions(lm, size=256)


def test_shapes_ranges_and_mask(conditions):
    lm, c = conditions
    t = len(lm)
    for a in (c.nmfc, c.shape, c.eyes):
        assert a.shape == (t, 256, 256, 3) and a.dtype == np.float32
        assert a.min() >= 0.0 and a.max() <= 1.0
    assert c.mask.shape == (t, 256, 256) and 0.1 < c.mask.mean() < 0.8
    face = c.nmfc.sum(-1) > 0
    assert (c.mask[face] > 0).mean() > 0.97                # NMFC lies inside the mask
    np.testing.assert_allclose(c.shape[..., 0], c.shape[..., 2])
    assert c.shape[face].min() >= 0.19                      # ambient + Lambert


def test_nmfc_colours_at_known_vertices(conditions):
    lm, c = conditions
    colours = load_canonical_mesh().nmfc_colors
    v = to_crop(lm, c.matrices)
    for t in range(len(lm)):
        for i in KNOWN:
            x, y = np.round(v[t, i, :2]).astype(int)
            np.testing.assert_allclose(c.nmfc[t, y, x], colours[i], atol=0.02,
                                       err_msg=f"frame {t} vertex {i}")


def test_eye_image_has_irises_that_a_blink_hides(single_face_fit):
    fit = single_face_fit
    frames = slice(30, 34)
    e = fit.expressions.copy()
    e[:, INDEX["eyeBlinkLeft"]] = e[:, INDEX["eyeBlinkRight"]] = 1.0
    lm_open = fit.landmarks[frames]
    m = crop_matrices(lm_open)
    renderer = ConditionRenderer()
    red_open = _red(renderer.render(lm_open, m).eyes)
    red_shut = _red(renderer.render(fit.landmarks_for(e)[frames], m).eyes)
    print(f"\niris pixels: open {red_open.mean():.0f}, after a full blink {red_shut.mean():.0f}")
    assert red_open.min() > 20 and (red_shut < 0.3 * red_open).all()


def _red(eyes: np.ndarray) -> np.ndarray:
    return ((eyes[..., 0] > 0.5) & (eyes[..., 1] < 0.5)).sum((1, 2))


def test_bad_inputs():
    lm = np.zeros((2, 478, 3), np.float32)
    with pytest.raises(NedError, match="landmarks must be"):
        render_conditions(lm[:, :468])
    with pytest.raises(NedError, match="matrices must be"):
        render_conditions(lm, np.zeros((3, 2, 3)))
    with pytest.raises(NedError, match="NaN"):
        render_conditions(np.full((1, 478, 3), np.nan, np.float32))
    with pytest.raises(NedError, match="at least 16"):
        ConditionRenderer(size=8)


def test_cli_writes_video_and_png(single_face_track, tmp_path, capsys):
    from ned.io.video import probe

    track = single_face_track.save(tmp_path / "clip.npz")
    out, png = tmp_path / "cond.mp4", tmp_path / "cond.png"
    assert main(["conditions", str(track), "-o", str(out), "--plot", str(png),
                 "--size", "128"]) == 0
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (512, 128, single_face_track.n_frames)
    assert png.stat().st_size > 1000
    assert main(["conditions", str(track), "--plot", str(tmp_path / "m.png"), "--model",
                 "--size", "64"]) == 0
    assert (tmp_path / "m.png").is_file()


def test_cli_bad_inputs(tmp_path, capsys, single_face_track):
    assert main(["conditions", str(tmp_path / "none.npz"), "-o", str(tmp_path / "a.mp4")]) == 1
    assert "not found" in capsys.readouterr().err
    track = single_face_track.save(tmp_path / "clip.npz")
    assert main(["conditions", str(track), "-o", str(tmp_path / "a.gif")]) == 1
    assert "output must be" in capsys.readouterr().err
    assert main(["conditions", str(track)]) == 1
    assert "nothing to write" in capsys.readouterr().err
    assert main(["conditions", str(track), "-o", str(tmp_path / "b.mp4"),
                 "--video", str(tmp_path / "missing.mp4")]) == 1
    assert "source video not found" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.mp4"))


def test_uint8_conditioner_matches_render_conditions(conditions):
    from ned.facemodel.conditions import conditioner

    lm, c = conditions
    crop = to_crop(lm[:1], c.matrices[:1])[0]
    img, mask = conditioner(crop, 256)
    assert img.shape == (256, 256, 9) and img.dtype == np.uint8 and mask.dtype == np.uint8
    ref = np.concatenate([c.nmfc[0], c.shape[0], c.eyes[0]], -1)
    assert np.abs(img.astype(float) / 255 - ref).mean() < 0.01
    with pytest.raises(NedError, match="478, 3"):
        conditioner(crop[:468], 256)


def test_cli_track_without_a_face(tmp_path, capsys, single_face_track):
    import dataclasses

    none = dataclasses.replace(single_face_track,
                               valid=np.zeros(single_face_track.n_frames, bool))
    track = none.save(tmp_path / "none.npz")
    assert main(["conditions", str(track), "--plot", str(tmp_path / "a.png")]) == 1
    assert "no frame with a face" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()
