"""Per-clip fit: re-projection of the measured expressions, landmarks under new ones,
the FaceModel interface and the pose maths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ned.errors import NedError
from ned.facemodel.fit import fit_track
from ned.facemodel.model import FaceModel, RigFaceModel
from ned.facemodel.pose import Pose, fit_similarity
from ned.facemodel.rig import load_rig


@pytest.mark.parametrize("name", ["single_face", "carphone"])
def test_reprojection_of_measured_expressions_within_2_5_percent_iod(name, request):
    fit = request.getfixturevalue(f"{name}_fit")
    err = fit.reprojection_error()
    mean = float(np.nanmean(err))
    print(f"\n{name}: model re-projection error, mean {mean:.4f} IOD, "
          f"95th percentile {np.nanpercentile(err, 95):.4f}, max {np.nanmax(err):.4f} "
          f"({int(fit.valid.sum())} frames)")
    assert mean < 0.025
    # the rig explains the motion: far better than the identity alone
    still = fit_track(request.getfixturevalue(f"{name}_track"), adapt=False)
    neutral = dataclasses.replace(still, expressions=np.zeros_like(still.expressions))
    assert mean < 0.6 * float(np.nanmean(neutral.reprojection_error()))


def test_landmarks_for_measured_expressions_returns_measured(single_face_fit):
    fit = single_face_fit
    np.testing.assert_array_equal(fit.landmarks_for(fit.expressions), fit.landmarks)
    e = fit.expressions.copy()
    e[:, 25] += 0.3                                     # jawOpen
    moved = fit.landmarks_for(e)
    assert moved.shape == (fit.n_frames, 478, 3) and moved.dtype == np.float32
    assert np.abs(moved - fit.landmarks).max() > 1.0
    with pytest.raises(NedError, match="expressions must be"):
        fit.landmarks_for(e[:, :51])


def test_invalid_frames_are_not_moved(carphone_track):
    valid = carphone_track.valid.copy()
    valid[:5] = False
    track = dataclasses.replace(carphone_track, valid=valid)
    fit = fit_track(track)
    e = fit.expressions + 0.5
    d = fit.displacement(e)
    assert not d[:5].any() and d[5:].any()
    assert np.isnan(fit.reprojection_error()[:5]).all()
    none = dataclasses.replace(carphone_track, valid=np.zeros_like(valid))
    with pytest.raises(NedError, match="no frame with a face"):
        fit_track(none)


def test_face_model_interface_is_backend_neutral():
    rig = load_rig()
    model = RigFaceModel(rig)
    assert isinstance(model, FaceModel) and model.n_expressions == 52
    t = 4
    pose = Pose(np.tile(np.diag([1.0, -1.0, -1.0]).astype(np.float32), (t, 1, 1)),
                np.full(t, 10.0, np.float32), np.tile(np.float32([100, 80, 0]), (t, 1)))
    v = model.vertices(rig.mean_shape, np.zeros((t, 52)), pose)
    assert v.shape == (t, 478, 3)
    # y up in the model becomes y down in the image
    assert v[0, 152, 1] > v[0, 10, 1]
    with pytest.raises(NedError, match="expressions must be"):
        model.vertices(rig.mean_shape, np.zeros((t, 51)), pose)
    with pytest.raises(NedError, match="NaN"):
        model.vertices(rig.mean_shape, np.full((t, 52), np.nan), pose)
    with pytest.raises(NedError, match="pose has"):
        model.vertices(rig.mean_shape, np.zeros((t + 1, 52)), pose)


def test_fit_similarity_recovers_a_known_pose():
    rng = np.random.default_rng(1)
    pts = rng.normal(0, 5, (50, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    target = (7.5 * pts @ q.T + [10, -3, 2])[None]
    pose = fit_similarity(pts, target)
    np.testing.assert_allclose(pose.rotation[0], q, atol=1e-5)
    assert pose.scale[0] == pytest.approx(7.5, rel=1e-5)
    np.testing.assert_allclose(pose.invert(target.astype(np.float32))[0], pts, atol=1e-3)
    with pytest.raises(NedError, match="target must be"):
        fit_similarity(pts, target[0])


def test_nearest_valid_frame():
    from ned.facemodel.fit import nearest_valid

    valid = np.array([False, True, False, False, False, True, False])
    np.testing.assert_array_equal(nearest_valid(valid), [1, 1, 1, 1, 5, 5, 5])
    np.testing.assert_array_equal(nearest_valid(np.ones(3, bool)), [0, 1, 2])
