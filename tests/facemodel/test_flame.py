"""FLAME backend on a tiny generated stand-in (FLAME itself cannot ship)."""

from __future__ import annotations

import numpy as np
import pytest

from ned.errors import NedError
from ned.facemodel.flame import FlameModel
from ned.facemodel.model import FaceModel
from ned.facemodel.pose import Pose

V, J = 12, 5


def _stand_in(path, posedirs: bool = False):
    rng = np.random.default_rng(0)
    v = rng.normal(0, 0.05, (V, 3))
    weights = np.zeros((V, J))
    weights[:6, 0] = 1.0                        # upper face on the root joint
    weights[6:, 2] = 1.0                        # lower face on the jaw joint
    j_reg = np.zeros((J, V))
    j_reg[:, 0] = 1.0                           # all joints at vertex 0 ...
    j_reg[2] = 0.0
    j_reg[2, 6] = 1.0                           # ... except the jaw, at vertex 6
    arrays = dict(v_template=v, f=np.array([[0, 1, 2], [6, 7, 8]]),
                  shapedirs=rng.normal(0, 0.01, (V, 3, 4 + 50)), J_regressor=j_reg,
                  weights=weights, kintree_table=np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]))
    if posedirs:
        arrays["posedirs"] = rng.normal(0, 0.001, (V, 3, 36))
    np.savez(path, **arrays)
    return arrays


def test_flame_expression_and_jaw(tmp_path):
    a = _stand_in(tmp_path / "flame.npz")
    m = FlameModel(tmp_path / "flame.npz", n_shape=4)
    assert isinstance(m, FaceModel) and m.n_expressions == 51
    beta = np.array([1.0, -0.5, 0.0, 0.2])
    e = np.zeros((3, 51), np.float32)
    e[1, 5] = 2.0                                # expression coefficient 4
    e[2, 0] = 0.3                                # jaw opening, radians
    out = m.shape(beta, e)
    shaped = a["v_template"] + a["shapedirs"][:, :, :4] @ beta
    np.testing.assert_allclose(out[0], shaped, atol=1e-6)
    np.testing.assert_allclose(out[1], shaped + 2.0 * a["shapedirs"][:, :, 4 + 4], atol=1e-6)
    # jaw: the upper face stays, the lower face rotates rigidly about the jaw joint
    np.testing.assert_allclose(out[2, :6], shaped[:6], atol=1e-6)
    c, s = np.cos(0.3), np.sin(0.3)
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    jaw = shaped[6]
    np.testing.assert_allclose(out[2, 6:], (shaped[6:] - jaw) @ rx.T + jaw, atol=1e-6)


def test_flame_vertices_through_pose_and_posedirs(tmp_path):
    _stand_in(tmp_path / "flame.npz", posedirs=True)
    m = FlameModel(tmp_path / "flame.npz", n_shape=4)
    t = 2
    pose = Pose(np.tile(np.diag([1.0, -1.0, -1.0]).astype(np.float32), (t, 1, 1)),
                np.full(t, 1000.0, np.float32), np.tile(np.float32([64, 64, 0]), (t, 1)))
    e = np.zeros((t, 51))
    e[1, 0] = 0.2
    v = m.vertices(np.zeros(4), e, pose)
    assert v.shape == (t, V, 3) and np.isfinite(v).all()
    assert not np.allclose(v[0, 6:], v[1, 6:])    # jaw moved the lower face
    with pytest.raises(NedError, match="expressions must be"):
        m.shape(np.zeros(4), np.zeros((1, 52)))
    with pytest.raises(NedError, match="identity has"):
        m.shape(np.zeros(9), np.zeros((1, 51)))


def test_flame_bad_files(tmp_path):
    with pytest.raises(NedError, match="not found"):
        FlameModel(tmp_path / "none.npz")
    np.savez(tmp_path / "partial.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(NedError, match="lacks"):
        FlameModel(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(NedError, match="not a FLAME"):
        FlameModel(tmp_path / "junk.npz")
    _stand_in(tmp_path / "flame.npz")
    with pytest.raises(NedError, match="shapedirs"):
        FlameModel(tmp_path / "flame.npz", n_shape=300)
