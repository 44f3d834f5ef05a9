"""Rig: shipped file, region confinement, the region-confined ridge estimator."""

from __future__ import annotations

import numpy as np
import pytest

from ned import topology as tp
from ned.blendshapes import BLENDSHAPE_NAMES, INDEX
from ned.errors import NedError
from ned.facemodel.mesh import load_canonical_mesh
from ned.facemodel.regions import is_non_speech, region_spec, region_weights
from ned.facemodel.rig import Rig, fit_offsets, load_rig

LIPS = sorted(set(tp.LIPS_INNER) | set(tp.LIPS_OUTER))


def test_shipped_rig_loads_with_provenance():
    rig = load_rig()
    assert rig.offsets.shape == (52, 478, 3) and rig.weights.shape == (52, 478)
    assert rig.names == BLENDSHAPE_NAMES
    figures = rig.info["fit_error_over_iod"]
    print("\nshipped rig fit (mean 3D error / IOD):", figures)
    assert figures["in_sample"] < figures["identity_mean_only"]
    assert "py-feat" in rig.info["prior"]
    assert np.isfinite(rig.offsets).all()
    # offsets live only inside each channel's region
    assert not np.abs(rig.offsets[rig.weights == 0]).any()


def test_non_speech_regions_exclude_the_lips_and_sides_split():
    m = load_canonical_mesh()
    w = region_weights(m.vertices, m.triangles)
    for k, name in enumerate(BLENDSHAPE_NAMES):
        if is_non_speech(name):
            assert not w[k, LIPS].any(), name
        if region_spec(name).side == +1 and not name.startswith("eyeLook"):
            assert not w[k, :468][m.vertices[:, 0] < -0.6].any(), name
    assert region_spec("mouthSmileLeft").side == +1 and region_spec("jawLeft").side == 0
    assert w[INDEX["jawOpen"], tp.CHIN] == pytest.approx(1.0)
    assert set(np.flatnonzero(w[INDEX["eyeLookUpLeft"]])) == set(tp.LEFT_IRIS)


def test_fit_offsets_recovers_generated_offsets():
    rng = np.random.default_rng(0)
    m = load_canonical_mesh()
    w = region_weights(m.vertices, m.triangles)
    truth = (rng.normal(0, 0.5, (52, 478, 3)) * w[..., None]).astype(np.float32)
    truth[0] = 0
    ids = [rng.normal(0, 1, (478, 3)) for _ in range(2)]
    coeffs = [rng.uniform(0, 1, (300, 52)) for _ in range(2)]
    shapes = [i + np.einsum("te,evc->tvc", c, truth) for i, c in zip(ids, coeffs, strict=True)]
    est, est_ids = fit_offsets(shapes, coeffs, w, np.zeros_like(truth), lam=1e-3)
    np.testing.assert_allclose(est, truth, atol=2e-3)
    np.testing.assert_allclose(est_ids[1], ids[1], atol=2e-3)
    # with no data the prior is returned (a dead channel keeps its prior)
    coeffs[0][:, 5] = coeffs[1][:, 5] = 0.3
    est, _ = fit_offsets(shapes, coeffs, w, truth, lam=1.0)
    np.testing.assert_allclose(est[5], truth[5], atol=1e-4)


def test_rig_save_load_round_trip_and_errors(tmp_path):
    rig = load_rig()
    path = rig.save(tmp_path / "rig.npz")
    again = load_rig(path)
    np.testing.assert_array_equal(again.offsets, rig.offsets)
    assert again.info == rig.info
    with pytest.raises(NedError, match="not found"):
        load_rig(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(NedError, match="not a rig"):
        load_rig(bad)
    with pytest.raises(NedError, match="shapes"):
        Rig(np.zeros((478, 3)), np.zeros((5, 478, 3)), np.zeros((52, 478)))
