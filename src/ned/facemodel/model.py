"""The backend-neutral face model interface and its MediaPipe-rig backend.

A :class:`FaceModel` maps an identity, expression vectors (T, E) and a per-frame
:class:`~ned.facemodel.pose.Pose` (scaled-orthographic camera) to vertices in image space
(T, V, 3). Nothing here refers to MediaPipe types, so other backends (FLAME: E = 51,
jaw opening + 50 expression coefficients; see :mod:`ned.facemodel.flame`) fit behind it.
"""

from __future__ import annotations

import abc

import numpy as np

from ned.errors import NedError
from ned.facemodel.pose import Pose
from ned.facemodel.rig import Rig
from ned.topology import N_LANDMARKS


class FaceModel(abc.ABC):
    """Identity + expressions + pose/camera -> image-space vertices.

    Subclasses define ``expression_names`` (length E), ``triangles`` (F, 3),
    ``template()`` and ``shape()``; :meth:`vertices` composes shape and pose.
    """

    expression_names: tuple[str, ...]
    triangles: np.ndarray

    @property
    def n_expressions(self) -> int:
        return len(self.expression_names)

    @abc.abstractmethod
    def template(self) -> np.ndarray:
        """(V, 3) float32 the model's mean identity, model units."""

    @abc.abstractmethod
    def shape(self, identity: np.ndarray, expressions: np.ndarray) -> np.ndarray:
        """Model-space vertices (T, V, 3) for identity and expressions (T, E)."""

    def vertices(self, identity: np.ndarray, expressions: np.ndarray, pose: Pose) -> np.ndarray:
        """Image-space vertices.

        Args:
            identity: the backend's identity (MediaPipe: (478, 3) neutral shape, cm;
                FLAME: (n_shape,) shape coefficients).
            expressions: (T, E) float expression vectors.
            pose: per-frame camera with T frames.

        Returns:
            (T, V, 3) float32: x, y pixels, z depth in pixels (larger = farther).
        """
        expressions = self.check_expressions(expressions)
        if pose.n_frames != len(expressions):
            raise NedError(f"pose has {pose.n_frames} frames, expressions {len(expressions)}")
        return pose.apply(self.shape(identity, expressions))

    def check_expressions(self, expressions: np.ndarray) -> np.ndarray:
        e = np.asarray(expressions, np.float32)
        if e.ndim != 2 or e.shape[1] != self.n_expressions:
            raise NedError(f"expressions must be (T, {self.n_expressions}), got {e.shape}")
        if not np.isfinite(e).all():
            raise NedError("expressions contain NaN or infinite values")
        return e


class RigFaceModel(FaceModel):
    """The MediaPipe-topology backend: 478 vertices, 52 blendshape channels (linear rig).

    Args:
        rig: the rig (template, offsets, regions).
        offsets: optional (52, 478, 3) actor-specific offsets replacing ``rig.offsets``.
    """

    def __init__(self, rig: Rig, offsets: np.ndarray | None = None,
                 triangles: np.ndarray | None = None) -> None:
        self.rig = rig
        self.offsets = rig.offsets if offsets is None else offsets.astype(np.float32)
        self.expression_names = rig.names
        if triangles is None:
            from ned.facemodel.mesh import load_canonical_mesh
            triangles = load_canonical_mesh().triangles
        self.triangles = triangles

    def template(self) -> np.ndarray:
        return self.rig.mean_shape

    def shape(self, identity: np.ndarray, expressions: np.ndarray) -> np.ndarray:
        identity = np.asarray(identity, np.float32)
        if identity.shape != (N_LANDMARKS, 3):
            raise NedError(f"identity must be ({N_LANDMARKS}, 3), got {identity.shape}")
        expressions = self.check_expressions(expressions)
        return (identity[None] + np.einsum("te,evc->tvc", expressions, self.offsets)
                ).astype(np.float32)
