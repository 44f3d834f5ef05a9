"""FLAME backend behind the :class:`~ned.facemodel.model.FaceModel` interface.

FLAME cannot ship with ned (its licence requires registration), so this backend loads a
user-supplied model converted to a plain ``.npz`` (no pickles). Expected arrays, as in
FLAME 2020's ``generic_model.pkl`` (convert once with the snippet in docs/face_model.md):

- ``v_template`` (V, 3) metres; ``f`` (F, 3) triangles;
- ``shapedirs`` (V, 3, S + X): S identity then X expression components (FLAME 2020:
  300 + 100; the number of identity components is ``n_shape``, default 300);
- ``posedirs`` (V, 3, 36) pose-corrective offsets (optional, zeros if absent);
- ``J_regressor`` (5, V); ``weights`` (V, 5); ``kintree_table`` (2, 5)
  (joints: global, neck, jaw, left eye, right eye).

Expression vector, as in the reference NED manipulator (51 = jaw + 50): index 0 is the jaw
opening angle (radians, rotation about the jaw joint's x axis, DECA's ``pose[3]``),
indices 1..50 the first 50 FLAME expression coefficients. Identity: (n,) shape coefficients
(n <= n_shape). Model units are metres; the :class:`Pose` scale maps them to pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ned.errors import NedError
from ned.facemodel.model import FaceModel

N_EXPRESSION = 50
FLAME_NAMES: tuple[str, ...] = ("jaw",) + tuple(f"exp{i:02d}" for i in range(N_EXPRESSION))
_KEYS = ("v_template", "f", "shapedirs", "J_regressor", "weights", "kintree_table")


def _rodrigues_x(angle: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3) rotations about x."""
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros((len(angle), 3, 3))
    r[:, 0, 0] = 1.0
    r[:, 1, 1], r[:, 1, 2], r[:, 2, 1], r[:, 2, 2] = c, -s, s, c
    return r


class FlameModel(FaceModel):
    """FLAME: identity (shape coefficients) + 51-d expression (jaw + 50) -> vertices.

    Args:
        path: the converted ``.npz`` (see module docstring).
        n_shape: number of identity components at the front of ``shapedirs``.
    """

    expression_names = FLAME_NAMES

    def __init__(self, path: str | os.PathLike, n_shape: int = 300) -> None:
        path = Path(path)
        if not path.is_file():
            raise NedError(f"FLAME model not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: np.asarray(z[k]) for k in z.files}
        except (OSError, ValueError) as e:
            raise NedError(f"{path} is not a FLAME .npz ({e.__class__.__name__})") from None
        missing = [k for k in _KEYS if k not in data]
        if missing:
            raise NedError(f"{path} lacks {', '.join(missing)} (see docs/face_model.md)")
        self.v_template = data["v_template"].astype(np.float64)
        v = len(self.v_template)
        sd = data["shapedirs"].astype(np.float64)
        if sd.shape[:2] != (v, 3) or sd.shape[2] < n_shape + N_EXPRESSION:
            raise NedError(f"{path}: shapedirs {sd.shape} needs ({v}, 3, >= "
                           f"{n_shape + N_EXPRESSION})")
        self.shape_dirs = sd[:, :, :n_shape]
        self.expr_dirs = sd[:, :, n_shape:n_shape + N_EXPRESSION]
        self.posedirs = data.get("posedirs", np.zeros((v, 3, 36))).astype(np.float64)
        self.j_regressor = data["J_regressor"].astype(np.float64)
        self.lbs_weights = data["weights"].astype(np.float64)
        self.parents = data["kintree_table"][0].astype(np.int64)
        self.triangles = data["f"].astype(np.int64)
        j = len(self.parents)
        if self.j_regressor.shape != (j, v) or self.lbs_weights.shape != (v, j) or j < 3:
            raise NedError(f"{path}: joint arrays disagree ({j} joints, {v} vertices)")

    def template(self) -> np.ndarray:
        return self.v_template.astype(np.float32)

    def shape(self, identity: np.ndarray, expressions: np.ndarray) -> np.ndarray:
        """(T, V, 3) float32 metres for identity (n,) and expressions (T, 51)."""
        e = self.check_expressions(expressions).astype(np.float64)
        beta = np.asarray(identity, np.float64).ravel()
        if beta.size > self.shape_dirs.shape[2]:
            raise NedError(f"identity has {beta.size} coefficients, the model "
                           f"{self.shape_dirs.shape[2]}")
        shaped = self.v_template + self.shape_dirs[:, :, :beta.size] @ beta
        v = shaped[None] + np.einsum("vce,te->tvc", self.expr_dirs, e[:, 1:])
        joints = self.j_regressor @ shaped                          # (J, 3), jaw = joint 2
        t, n_j = len(e), len(self.parents)
        rot = np.tile(np.eye(3), (t, n_j, 1, 1))
        rot[:, 2] = _rodrigues_x(e[:, 0])
        pose_feat = (rot[:, 1:] - np.eye(3)).reshape(t, -1)[:, :self.posedirs.shape[2]]
        v = v + np.einsum("vck,tk->tvc", self.posedirs[:, :, :pose_feat.shape[1]], pose_feat)
        return self._skin(v, joints, rot).astype(np.float32)

    def _skin(self, v: np.ndarray, joints: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """Linear blend skinning along the kinematic chain; rest pose = ``joints``."""
        t, n_j = rot.shape[:2]
        g_rot = np.zeros_like(rot)
        g_pos = np.zeros((t, n_j, 3))
        for k in range(n_j):
            p = self.parents[k]
            if k == 0 or p < 0 or p >= n_j:
                g_rot[:, k], g_pos[:, k] = rot[:, k], joints[k]
            else:
                g_rot[:, k] = g_rot[:, p] @ rot[:, k]
                g_pos[:, k] = g_pos[:, p] + np.einsum("tij,j->ti", g_rot[:, p],
                                                      joints[k] - joints[p])
        # vertex = sum_k w_k (R_k (v - J_k) + G_k)
        rel = v[:, None] - joints[None, :, None]                              # (T, J, V, 3)
        moved = np.einsum("tkij,tkvj->tkvi", g_rot, rel) + g_pos[:, :, None]
        return np.einsum("vk,tkvi->tvi", self.lbs_weights, moved)
