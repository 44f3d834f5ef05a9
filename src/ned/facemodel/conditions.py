"""The paper's conditioning images in aligned crop space: NMFC, shape, eyes, face mask.

``render_conditions(landmarks, matrices, size)`` draws, per frame:
- NMFC: the canonical (mean-face) coordinates normalised to [0, 1] as vertex colours,
  rasterised with a z-buffer, back faces culled, the mouth opening left empty (black);
- shape: grey Lambert shading of the same geometry (light from the camera, ambient 0.2);
- eyes: eyelid outlines (white, 1 px) and the irises as red disks (centre = iris centre
  landmark, radius = (|p1 - p3| + |p2 - p4|) / 4 over the four iris boundary points),
  clipped to the eye opening so a closed lid hides them;
- mask: the filled face oval.
All are float32 in [0, 1]; ``matrices`` map image pixels to the crop (T, 2, 3).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import csr_matrix

from ned import topology as tp
from ned.align import alignment_matrices
from ned.errors import NedError
from ned.facemodel.mesh import CanonicalMesh, aperture_triangles, load_canonical_mesh
from ned.facemodel.raster import fragments
from ned.topology import N_LANDMARKS, N_MESH

DEFAULT_SIZE = 256
AMBIENT = 0.2


@dataclass(frozen=True)
class Conditions:
    """Conditioning images of T frames, S x S, float32 in [0, 1].

    Attributes:
        nmfc: (T, S, S, 3).
        shape: (T, S, S, 3) grey (three equal channels).
        eyes: (T, S, S, 3) red iris disks, white lid outlines.
        mask: (T, S, S) face region.
        matrices: (T, 2, 3) image -> crop similarity used.
    """

    nmfc: np.ndarray
    shape: np.ndarray
    eyes: np.ndarray
    mask: np.ndarray
    matrices: np.ndarray


def crop_matrices(landmarks: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """(T, 2, 3) image -> aligned-crop similarity per frame (``ned.align.alignment_matrices``:
    a rigid upper-face template, so speech does not move the crop).

    Args:
        landmarks: (T, 478, 3) pixels.
        size: side of the square crop.
    """
    landmarks = np.asarray(landmarks, np.float32)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (N_LANDMARKS, 3):
        raise NedError(f"landmarks must be (T, {N_LANDMARKS}, 3), got {landmarks.shape}")
    return np.asarray(alignment_matrices(landmarks, size=size), np.float32)


def to_crop(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Image-space points (T, N, 3) -> crop space: x, y by the similarity, z scaled alike."""
    xy = np.einsum("tij,tnj->tni", matrices[:, :, :2], points[..., :2]) + matrices[:, None, :, 2]
    scale = np.sqrt(np.abs(np.linalg.det(matrices[:, :, :2])))
    return np.concatenate([xy, points[..., 2:] * scale[:, None, None]], -1).astype(np.float32)


class ConditionRenderer:
    """Reusable renderer (holds the mesh, NMFC colours and normal-accumulation matrix)."""

    def __init__(self, mesh: CanonicalMesh | None = None, size: int = DEFAULT_SIZE,
                 chunk: int = 2) -> None:
        if size < 16:
            raise NedError(f"condition size must be at least 16, got {size}")
        self.mesh = mesh or load_canonical_mesh()
        self.size = int(size)
        self.chunk = max(int(chunk), 1)
        tri = self.mesh.triangles
        self.triangles = tri[~aperture_triangles(tri)["mouth"]].astype(np.int64)
        self.colors = self.mesh.nmfc_colors
        rows = self.triangles.ravel()
        cols = np.repeat(np.arange(len(self.triangles)), 3)
        self._incidence = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                     shape=(N_MESH, len(self.triangles)))

    def _shading(self, v: np.ndarray) -> np.ndarray:
        """(T, 468, 3) crop-space vertices -> (T, 468) Lambert shade in [0, 1]."""
        p = v[:, self.triangles]
        n = np.cross(p[:, :, 1] - p[:, :, 0], p[:, :, 2] - p[:, :, 0])     # (T, F, 3)
        t, f = n.shape[:2]
        vn = (self._incidence @ n.transpose(1, 0, 2).reshape(f, -1)).reshape(N_MESH, t, 3)
        vn = vn.transpose(1, 0, 2)
        vn /= np.maximum(np.linalg.norm(vn, axis=-1, keepdims=True), 1e-9)
        # front faces have negative signed area (y down), their normals point to -z (camera)
        return AMBIENT + (1 - AMBIENT) * np.clip(-vn[..., 2], 0.0, 1.0)

    def _eyes_and_mask(self, v: np.ndarray, eyes_out: np.ndarray, mask_out: np.ndarray) -> None:
        """Draw eye images (T, S, S, 3) and masks (T, S, S) straight into float32 outputs."""
        sh = 4
        one = 1 << sh
        pts = np.round(v[..., :2] * one).astype(np.int32)
        for i in range(len(v)):
            cv2.fillPoly(mask_out[i], [pts[i, list(tp.FACE_OVAL)]], 1.0, cv2.LINE_AA, sh)
            for loop, iris in ((tp.RIGHT_EYE, tp.RIGHT_IRIS), (tp.LEFT_EYE, tp.LEFT_IRIS)):
                self._iris(eyes_out[i], v[i], pts[i], loop, iris)
            lids = [pts[i, list(tp.RIGHT_EYE)], pts[i, list(tp.LEFT_EYE)]]
            cv2.polylines(eyes_out[i], lids, True, (1.0, 1.0, 1.0), 1, cv2.LINE_AA, sh)

    def _iris(self, out: np.ndarray, v: np.ndarray, pts: np.ndarray, loop: tuple,
              iris: tuple) -> None:
        """Red iris disk clipped to the eye opening, drawn in a small box around the eye."""
        s, sh = self.size, 4
        q = v[list(iris), :2]
        rad = (np.linalg.norm(q[1] - q[3]) + np.linalg.norm(q[2] - q[4])) / 4
        lid = v[list(loop), :2]
        x0, y0 = np.maximum(np.floor(lid.min(0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(lid.max(0)).astype(int) + 2, s)
        if x1 <= x0 or y1 <= y0:
            return
        off = np.array([x0, y0]) << sh
        disk = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.circle(disk, tuple(int(c) for c in pts[iris[0]] - off), max(int(rad * (1 << sh)), 1),
                   255, -1, cv2.LINE_AA, sh)
        opening = np.zeros_like(disk)
        cv2.fillPoly(opening, [pts[list(loop)] - off], 255, cv2.LINE_AA, sh)
        red = cv2.multiply(disk, opening, scale=1 / 255).astype(np.float32) * (1 / 255)
        np.maximum(out[y0:y1, x0:x1, 0], red, out=out[y0:y1, x0:x1, 0])

    def render(self, landmarks: np.ndarray, matrices: np.ndarray | None = None) -> Conditions:
        """Conditioning images for image-space landmarks.

        Args:
            landmarks: (T, 478, 3) float pixels (x, y) and depth z (smaller = nearer), e.g.
                a FaceTrack's landmarks or ``TrackFit.landmarks_for(new_expressions)``.
            matrices: (T, 2, 3) image -> crop similarities (default :func:`crop_matrices`).

        Returns:
            :class:`Conditions` with S = ``self.size``.
        """
        landmarks = np.asarray(landmarks, np.float32)
        if landmarks.ndim != 3 or landmarks.shape[1:] != (N_LANDMARKS, 3):
            raise NedError(f"landmarks must be (T, {N_LANDMARKS}, 3), got {landmarks.shape}")
        if not np.isfinite(landmarks).all():
            raise NedError("landmarks contain NaN or infinite values")
        m = crop_matrices(landmarks, self.size) if matrices is None \
            else np.asarray(matrices, np.float32)
        if m.shape != (len(landmarks), 2, 3):
            raise NedError(f"matrices must be ({len(landmarks)}, 2, 3), got {m.shape}")
        v = to_crop(landmarks, m)
        t, size = len(v), self.size
        nmfc = np.zeros((t, size, size, 3), np.float32)
        shape = np.zeros((t, size, size, 3), np.float32)
        eyes = np.zeros((t, size, size, 3), np.float32)
        mask = np.zeros((t, size, size), np.float32)
        for i in range(0, t, self.chunk):
            j = min(i + self.chunk, t)
            mesh_v = v[i:j, :N_MESH]
            fr = fragments(mesh_v, self.triangles, size, cull=-1)
            px = fr.pixels + i * size * size
            attr = np.concatenate([np.broadcast_to(self.colors, (j - i, N_MESH, 3)),
                                   self._shading(mesh_v)[..., None]], -1).reshape(-1, 4)
            val = np.clip(fr.interpolate(attr), 0.0, 1.0)
            nmfc.reshape(-1, 3)[px] = val[:, :3]
            shape.reshape(-1, 3)[px] = val[:, 3:]
            self._eyes_and_mask(v[i:j], eyes[i:j], mask[i:j])
        return Conditions(nmfc=nmfc, shape=shape, eyes=eyes, mask=mask, matrices=m)


def render_conditions(landmarks: np.ndarray, matrices: np.ndarray | None = None,
                      size: int = DEFAULT_SIZE) -> Conditions:
    """Conditioning images (NMFC, shape, eyes, mask) in aligned crop space.

    Args:
        landmarks: (T, 478, 3) image pixels (x, y) and depth z, smaller = nearer.
        matrices: (T, 2, 3) image -> crop similarities; default :func:`crop_matrices` of
            ``landmarks``. For edited geometry pass the matrices of the *measured*
            landmarks, so the crop follows the head and not the edit.
        size: crop side S in pixels.

    Returns:
        :class:`Conditions`, arrays float32 in [0, 1].
    """
    return ConditionRenderer(size=size).render(landmarks, matrices)


@functools.lru_cache(maxsize=4)
def _renderer(size: int) -> ConditionRenderer:
    return ConditionRenderer(size=size)


def conditioner(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One frame's conditioning images from landmarks already in crop space, as uint8.

    Drop-in for the neural renderer's ``Conditioner`` signature
    (``ned.render.neural.prepare``): same images as :func:`render_conditions`.

    Args:
        points: (478, 3) crop pixels (x, y) and depth z (smaller = nearer), crop scale.
        size: crop side S.

    Returns:
        (S, S, 9) uint8 (NMFC, shape, eyes) and (S, S) uint8 face mask (255 inside).
    """
    points = np.asarray(points, np.float32)
    if points.shape != (N_LANDMARKS, 3):
        raise NedError(f"conditioner needs ({N_LANDMARKS}, 3) points, got {points.shape}")
    eye = np.array([[[1, 0, 0], [0, 1, 0]]], np.float32)
    c = _renderer(int(size)).render(points[None], eye)
    img = np.concatenate([c.nmfc[0], c.shape[0], c.eyes[0]], -1)
    return (np.round(img * 255).astype(np.uint8),
            np.round(c.mask[0] * 255).astype(np.uint8))
