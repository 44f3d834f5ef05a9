"""Fold-free deformation: known answers on folds, local shrinking, the ARAP solver, and a
real edit that folds (a brow pushed through its lid) made injective."""

from __future__ import annotations

import numpy as np
import pytest

from ned.errors import NedError
from ned.facemodel import deform as D
from ned.render.warp import fold_fraction


def test_flipped_known_answer():
    tris = np.array([[0, 1, 2], [1, 3, 2]])
    p = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    assert D.signed_areas(p, tris).tolist() == [1.0, 1.0]
    q = p.copy()
    q[3] = (-0.5, -0.5)                       # the second triangle turns over
    assert D.flipped(q, p, tris).tolist() == [False, True]
    assert D.flipped(p, p, tris).tolist() == [False, False]


@pytest.fixture(scope="module")
def face(single_face_track):
    return single_face_track.landmarks[30].astype(np.float64)


def _brow_through_lid(face: np.ndarray, depth: float) -> np.ndarray:
    """The right brow region pushed down by up to ``depth`` IOD (a smooth bump around the
    brow's centre) while the eye contour stays: the skin between them folds."""
    from ned.topology import RIGHT_EYE, RIGHT_EYEBROW, inter_ocular

    dst = face.copy()
    iod = float(inter_ocular(face))
    centre = face[list(RIGHT_EYEBROW), :2].mean(0)
    d = np.linalg.norm(face[:, :2] - centre, axis=1) / iod
    dst[:, 1] += depth * iod * np.exp(-0.5 * (d / 0.2) ** 2)
    dst[list(RIGHT_EYE)] = face[list(RIGHT_EYE)]
    return dst


def test_local_unfold_only_shrinks_around_folds(face):
    dst = _brow_through_lid(face, 0.35)
    dst[:, 1] -= 3.0 * (face[:, 1] > face[1, 1])           # the lower face moved up: no fold
    assert fold_fraction(dst, face) > 0
    out, scale = D.local_unfold(face, dst)
    assert fold_fraction(out, face) == 0
    assert scale.min() < 0.5 and scale[61] > 0.999         # the mouth keeps its full edit
    np.testing.assert_allclose(out[61], dst[61], atol=1e-3)


def test_local_unfold_keeps_the_base_and_shrinks_what_folds_on_top(face):
    """A fold-free base (the whole face moved up 2 px) with a folding edit drawn over it
    (the brow pushed through its lid): shrunk towards the base, every vertex lies between
    the base and the edit, the brow ends nearer the base than when shrunk towards the
    measured face, and nothing folds; a base that folds itself is unfolded first."""
    from ned.topology import RIGHT_EYEBROW

    base = face.copy()
    base[:, 1] -= 2.0
    dst = _brow_through_lid(base, 0.35)
    out, scale = D.local_unfold(face, dst, base=base)
    assert fold_fraction(out, face) == 0 and scale.min() < 0.5
    brow = list(RIGHT_EYEBROW)
    towards_src, _ = D.local_unfold(face, dst)
    # every vertex lies on its way from the base to the edit (scale 1: the edit, 0: base)
    s = scale[:, None]
    np.testing.assert_allclose(out[:468, :2], base[:468, :2] + s * (dst - base)[:468, :2],
                               atol=1e-6)
    assert np.abs(out[brow, 1] - base[brow, 1]).mean() < np.abs(
        towards_src[brow, 1] - base[brow, 1]).mean()
    folding_base = _brow_through_lid(face, 0.35)
    out, _ = D.local_unfold(face, folding_base + np.array([1.0, 0.0, 0.0]),
                            base=folding_base)
    assert fold_fraction(out, face) == 0


def test_fold_free_reaches_most_of_a_folding_edit(face):
    solver = D.ArapSolver(face)
    dst = _brow_through_lid(face, 0.3)
    out, fix = D.fold_free(solver, face, dst)
    assert fix.folds > 0 and fold_fraction(out, face) == 0
    assert 0.6 < fix.reached < 1.0
    halved = face + 0.5 * (dst - face)                     # what halving would keep
    assert np.abs(out - dst)[:468, :2].sum() < np.abs(halved - dst)[:468, :2].sum()
    assert out.dtype == np.float32 and out.shape == (478, 3)


def test_fold_free_returns_a_clean_edit_unchanged(face):
    dst = face + np.array([0.5, -0.3, 0.0])
    out, fix = D.fold_free(D.ArapSolver(face), face, dst)
    np.testing.assert_allclose(out, dst, atol=1e-4)
    assert fix.folds == 0 and fix.reached == 1.0 and not fix.shrunk


def test_arap_keeps_a_rigid_motion(face):
    solver = D.ArapSolver(face)
    th = np.radians(5.0)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    moved = face.copy()
    moved[:, :2] = (face[:, :2] - face[:, :2].mean(0)) @ rot.T + face[:, :2].mean(0) + 3.0
    x = solver.solve(face, moved)
    np.testing.assert_allclose(x, moved[:468, :2], atol=0.05)


def test_bad_inputs(face):
    with pytest.raises(NedError, match="ARAP reference"):
        D.ArapSolver(np.zeros((10, 2)))
    with pytest.raises(NedError, match="fold_free needs"):
        D.fold_free(D.ArapSolver(face), face[:, :2], face)


def test_smooth_field_keeps_smooth_fields_and_flattens_spikes():
    rng = np.random.default_rng(0)
    const = np.tile(np.array([0.5, -0.2, 0.1], np.float32), (478, 1))
    np.testing.assert_allclose(D.smooth_field(const, 3), const, atol=1e-6)
    spiky = const + rng.normal(0, 0.3, const.shape).astype(np.float32)
    out = D.smooth_field(spiky, 3)
    assert np.abs(out - const)[:468].std() < 0.5 * np.abs(spiky - const)[:468].std()
    np.testing.assert_array_equal(out[468:], spiky[468:])        # iris points untouched
    # upper and lower lips are not neighbours: a lower-lip-only field stays off the upper lip
    lower = np.zeros((478, 3), np.float32)
    lower[[14, 87, 178, 88, 95, 317, 402, 318, 324], 1] = 1.0
    assert D.smooth_field(lower, 1)[13, 1] == 0.0
    assert D.smooth_field(np.stack([lower, lower]), 1).shape == (2, 478, 3)
