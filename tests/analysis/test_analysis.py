import numpy as np
import pytest

from ned.align import (
    alignment_matrices,
    similarity,
    transform_points,
    warp_from_crop,
    warp_to_crop,
)
from ned.analysis import AnalysisConfig, analyze
from ned.analysis.smoothing import OneEuroConfig, OneEuroFilter, jitter, orthonormalise
from ned.blendshapes import index_of
from ned.errors import NedError
from ned.io import read_frames
from ned.mask import face_box, face_mask
from ned.records import FaceTrack
from ned.topology import inner_lip_gap

JAW = index_of("jawOpen")


# smoke / shape
def test_track_shapes(single_face_track):
    t = single_face_track
    assert t.landmarks.shape == (72, 478, 3) and t.blendshapes.shape == (72, 52)
    assert t.transforms.shape == (72, 4, 4) and t.valid.dtype == bool
    assert (t.width, t.height) == (640, 360) and t.fps == pytest.approx(30)
    assert len(t.source_hash) == 64


# correctness: detection rates on the sample clips
def test_valid_on_sample_clips(single_face_track, carphone_track):
    assert single_face_track.valid_fraction >= 0.98
    assert carphone_track.valid_fraction >= 0.98
    # landmarks inside the frame and the face roughly central
    lm = single_face_track.landmarks[single_face_track.valid]
    assert lm[..., 0].min() > 0 and lm[..., 0].max() < 640
    assert 0.3 < single_face_track.blendshapes[30:60, index_of("mouthSmileLeft")].mean()


def test_no_face_clip(no_face_path):
    t = analyze(no_face_path)
    assert t.n_frames > 90 and not t.valid.any()


def test_smoothing_lowers_jitter_and_keeps_speech(single_face_track, carphone_track):
    for t in (single_face_track, carphone_track):
        v = t.valid
        raw, smooth = jitter(t.landmarks_raw[v]), jitter(t.landmarks[v])
        jaw_r = np.corrcoef(t.blendshapes[v, JAW], t.blendshapes_raw[v, JAW])[0, 1]
        lip_r = np.corrcoef(inner_lip_gap(t.landmarks[v]), inner_lip_gap(t.landmarks_raw[v]))[0, 1]
        print(f"{t.source}: jitter {raw:.3f} -> {smooth:.3f} px, jawOpen r={jaw_r:.3f}, "
              f"lip gap r={lip_r:.3f}")
        assert smooth < 0.7 * raw
        assert jaw_r >= 0.98 and lip_r >= 0.98


@pytest.mark.slow  # 1.5-2 s; the module keeps fast tests of its kind
def test_no_smooth_option_keeps_raw(carphone_path):
    t = analyze(carphone_path, AnalysisConfig(smooth=False))
    np.testing.assert_array_equal(t.landmarks, t.landmarks_raw)


def test_one_euro_known_answers():
    f = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.0))
    out = [f(np.array([1.0]), i / 30) for i in range(60)]
    assert out[-1][0] == pytest.approx(1.0)  # a constant passes unchanged
    f.reset()
    step = [f(np.array([0.0 if i < 5 else 1.0]), i / 30)[0] for i in range(40)]
    assert 0 < step[5] < 1 and step[-1] > 0.99  # a step is followed, with lag
    fast = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=100.0))
    fast_step = [fast(np.array([0.0 if i < 5 else 1.0]), i / 30)[0] for i in range(40)]
    assert fast_step[5] > step[5]  # speed raises the cutoff: less lag


def test_orthonormalise_restores_rotation():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    m = np.eye(4)
    m[:3, :3] = 2.0 * q + rng.normal(scale=0.01, size=(3, 3))
    out = orthonormalise(m)
    r = out[:3, :3] / np.cbrt(np.linalg.det(out[:3, :3]))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(out[:3, :3], 2.0 * q, atol=0.02)


# alignment
def test_similarity_known_answer():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(10, 2))
    a = np.deg2rad(30)
    m = np.array([[2 * np.cos(a), -2 * np.sin(a), 5], [2 * np.sin(a), 2 * np.cos(a), -3]])
    dst = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(similarity(src, dst), m, atol=1e-9)


def test_align_unalign_round_trip(single_face_track, single_face_path):
    """Align to a 256 crop and back: mean error inside the face mask < 2.5 grey levels."""
    frame = next(read_frames(single_face_path, start=20, stop=21)).image
    lm = single_face_track.landmarks[20]
    m = alignment_matrices(lm, 256)
    crop = warp_to_crop(frame, m, 256)
    assert crop.shape == (256, 256, 3)
    back = warp_from_crop(crop, m, frame.shape[:2])
    mask = face_mask(lm, frame.shape[:2], erode=3) > 0.5
    err = np.abs(back.astype(float) - frame.astype(float))[mask].mean()
    print(f"align round trip: mean abs error {err:.2f} grey levels in the face")
    assert err < 2.5
    # landmarks land on the template: eyes level, in the upper half
    pts = transform_points(lm, m)
    assert abs(pts[33, 1] - pts[263, 1]) < 4 and 80 < pts[33, 1] < 120


def test_alignment_batch_and_errors(single_face_track):
    ms = alignment_matrices(single_face_track.landmarks[:5], 128)
    assert ms.shape == (5, 2, 3)
    with pytest.raises(NedError):
        alignment_matrices(np.zeros((5, 10, 2)))
    with pytest.raises(NedError):
        alignment_matrices(np.zeros((478, 2)))  # degenerate points


# masks
def test_face_mask(single_face_track):
    lm = single_face_track.landmarks[0]
    hard = face_mask(lm, (360, 640))
    eroded = face_mask(lm, (360, 640), erode=5)
    soft = face_mask(lm, (360, 640), feather=9)
    assert hard.dtype == np.float32 and hard.shape == (360, 640)
    assert eroded.sum() < hard.sum()
    x0, y0, x1, y1 = face_box(lm)
    assert hard[int(lm[1, 1]), int(lm[1, 0])] == 1.0  # nose tip inside
    assert hard[:, : int(x0) - 2].max() == 0 and hard[: int(y0) - 2].max() == 0
    assert 0 < soft[(soft > 0) & (soft < 1)].size
    with pytest.raises(NedError):
        face_mask(lm, (360, 640), erode=-1)


# records
def test_track_save_load_round_trip(single_face_track, tmp_path):
    p = single_face_track.save(tmp_path / "t.npz")
    t = FaceTrack.load(p)
    np.testing.assert_array_equal(t.landmarks, single_face_track.landmarks)
    assert t.fps == single_face_track.fps and t.source_hash == single_face_track.source_hash


def test_track_load_errors(tmp_path, single_face_track):
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    with pytest.raises(NedError, match="not a ned record"):
        FaceTrack.load(bad)
    with pytest.raises(NedError, match="not found"):
        FaceTrack.load(tmp_path / "missing.npz")
    p = single_face_track.save(tmp_path / "t.npz")
    with np.load(p) as z:
        data = dict(z)
    data["__schema__"] = np.array(99)
    np.savez(tmp_path / "old.npz", **data)
    with pytest.raises(NedError, match="schema version 99"):
        FaceTrack.load(tmp_path / "old.npz")


def test_large_frames_are_analysed_on_a_shrunk_view(single_face_path, single_face_track,
                                                    monkeypatch, tmp_path):
    """With the view at half size (as a 4K clip's is) the landmarks come back in frame
    pixels within a pixel of the full-size analysis (here the face is 75 px on the view; a
    4K close-up's is 600)."""
    import sys

    from ned.analysis import analyze_to_file

    module = sys.modules["ned.analysis.analyze"]
    assert module.view_shrink(3840, 2160) == 2 and module.view_shrink(1920, 1080) == 1
    monkeypatch.setattr(module, "VIEW_SIDE", 320)
    out = tmp_path / "t.npz"
    analyze_to_file(single_face_path, out, AnalysisConfig())
    view = FaceTrack.load(out)
    assert view.valid.all() and (view.width, view.height) == (640, 360)
    err = np.linalg.norm(view.landmarks[..., :2] - single_face_track.landmarks[..., :2], axis=2)
    assert np.median(err) < 1.0 and np.percentile(err, 95) < 2.0
