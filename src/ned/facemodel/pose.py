"""Per-frame pose and camera: a scaled-orthographic (weak-perspective) projection.

The landmarker reports x, y in pixels and a relative depth z in the same pixel scale, i.e.
an orthographic camera up to one scale per frame. A model point X (centimetres, canonical
frame: x to the subject's left, y up, z towards the camera) maps to the image as
``p = scale * R @ X + translation`` with ``R`` a proper rotation (it flips y and z, image
y points down and image z grows away from the camera). Backend-neutral: no MediaPipe types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ned.errors import NedError


@dataclass(frozen=True)
class Pose:
    """Per-frame similarity from model space to image space.

    Attributes:
        rotation: (T, 3, 3) float32, proper rotations.
        scale: (T,) float32, pixels per model unit (pixels per cm for the MediaPipe rig).
        translation: (T, 3) float32, pixels.
    """

    rotation: np.ndarray
    scale: np.ndarray
    translation: np.ndarray

    def __post_init__(self) -> None:
        t = len(self.scale)
        if self.rotation.shape != (t, 3, 3) or self.translation.shape != (t, 3):
            raise NedError(f"Pose shapes disagree: rotation {self.rotation.shape}, scale "
                           f"{self.scale.shape}, translation {self.translation.shape}")

    @property
    def n_frames(self) -> int:
        return len(self.scale)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Model-space points (T, V, 3) -> image space (T, V, 3) float32 pixels."""
        if points.ndim != 3 or points.shape[0] != self.n_frames or points.shape[2] != 3:
            raise NedError(f"points must be ({self.n_frames}, V, 3), got {points.shape}")
        out = np.einsum("tij,tvj->tvi", self.rotation, points) * self.scale[:, None, None]
        return (out + self.translation[:, None, :]).astype(np.float32)

    def apply_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Model-space displacements (T, V, 3) -> image-space displacements (no translation)."""
        out = np.einsum("tij,tvj->tvi", self.rotation, vectors) * self.scale[:, None, None]
        return out.astype(np.float32)

    def invert(self, points: np.ndarray) -> np.ndarray:
        """Image-space points (T, V, 3) -> model space (T, V, 3)."""
        p = (points - self.translation[:, None, :]) / self.scale[:, None, None]
        return np.einsum("tji,tvj->tvi", self.rotation, p).astype(np.float32)


def fit_similarity(source: np.ndarray, target: np.ndarray,
                   weights: np.ndarray | None = None) -> Pose:
    """Least-squares similarity (Umeyama) taking ``source`` onto ``target`` per frame.

    Args:
        source: (V, 3) or (T, V, 3) model points.
        target: (T, V, 3) image points.
        weights: optional (V,) non-negative point weights.

    Returns:
        :class:`Pose` with ``target ~ scale * R @ source + translation``; R is a proper
        rotation (no reflection).
    """
    target = np.asarray(target, np.float64)
    if target.ndim != 3 or target.shape[2] != 3:
        raise NedError(f"target must be (T, V, 3), got {target.shape}")
    src = np.broadcast_to(np.asarray(source, np.float64), target.shape)
    w = np.ones(target.shape[1]) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s = np.einsum("v,tvi->ti", w, src)
    mu_t = np.einsum("v,tvi->ti", w, target)
    s0, t0 = src - mu_s[:, None], target - mu_t[:, None]
    cov = np.einsum("v,tvi,tvj->tij", w, t0, s0)
    u, sig, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    e = np.ones((len(d), 3))
    e[:, 2] = d
    rot = u @ (e[:, :, None] * vt)
    var_s = np.einsum("v,tvi->t", w, s0 ** 2)
    scale = (sig * e).sum(1) / np.maximum(var_s, 1e-12)
    trans = mu_t - scale[:, None] * np.einsum("tij,tj->ti", rot, mu_s)
    return Pose(rotation=rot.astype(np.float32), scale=scale.astype(np.float32),
                translation=trans.astype(np.float32))
