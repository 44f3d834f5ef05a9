"""Conditioning images for the renderer when the face model's renderer is not used.

:func:`landmark_conditions` paints the landmark mesh itself (the canonical MediaPipe
triangles at the tracked landmark positions): NMFC colours, a Lambert-shaded shape image
and red pupil disks, in the layout of the face model's ``render_conditions``.
:func:`fallback_warp` is a piecewise-affine warp over the landmark triangulation, used
when the warp renderer (``ned.render.warp``) is not installed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import cv2
import numpy as np

from ned.errors import NedError
from ned.mask import face_mask
from ned.topology import LEFT_IRIS, N_LANDMARKS, RIGHT_IRIS


@functools.lru_cache(maxsize=1)
def _mesh() -> tuple[np.ndarray, np.ndarray]:
    from ned.facemodel.mesh import load_canonical_mesh

    m = load_canonical_mesh()
    return m.triangles.astype(np.int64), m.nmfc_colors


def landmark_conditions(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Conditioning images of one frame from its landmarks.

    Args:
        points: (478, 3) landmarks in crop pixels (x, y; z in the same scale, smaller is
            nearer the camera).
        size: crop side S in pixels.

    Returns:
        (S, S, 9) uint8 (NMFC, shape, eyes) and (S, S) uint8 face mask (255 inside).
    """
    points = np.asarray(points, np.float64)
    if points.shape != (N_LANDMARKS, 3):
        raise NedError(f"landmark_conditions needs ({N_LANDMARKS}, 3) points, got "
                       f"{points.shape}")
    tris, colors = _mesh()
    nmfc = np.zeros((size, size, 3), np.uint8)
    shape = np.zeros((size, size, 3), np.uint8)
    tri_pts = points[tris]                                        # (F, 3, 3)
    n = np.cross(tri_pts[:, 1] - tri_pts[:, 0], tri_pts[:, 2] - tri_pts[:, 0])
    shade = np.abs(n[:, 2]) / np.maximum(np.linalg.norm(n, axis=1), 1e-9)
    order = np.argsort(-tri_pts[:, :, 2].mean(1))                 # far first
    xy = np.round(tri_pts[:, :, :2] * 16).astype(np.int32)
    col = (colors[tris].mean(1) * 255).round().astype(int)
    for f in order:
        cv2.fillConvexPoly(nmfc, xy[f], col[f].tolist(), lineType=cv2.LINE_8, shift=4)
        g = int(round(40 + 215 * shade[f]))
        cv2.fillConvexPoly(shape, xy[f], (g, g, g), lineType=cv2.LINE_8, shift=4)
    eyes = np.zeros((size, size, 3), np.uint8)
    for iris in (RIGHT_IRIS, LEFT_IRIS):
        c = points[iris[0], :2]
        r = np.linalg.norm(points[list(iris[1:]), :2] - c, axis=1).mean()
        cv2.circle(eyes, tuple(np.round(c * 16).astype(int).tolist()),
                   int(round(max(r, 0.5) * 16)), (255, 0, 0), -1, cv2.LINE_AA, shift=4)
    mask = (face_mask(points, (size, size)) * 255).round().astype(np.uint8)
    return np.concatenate([nmfc, shape, eyes], -1), mask


def fallback_warp(src: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
    """Warp ``src`` so its landmarks move from ``src_points`` to ``dst_points``.

    Piecewise affine over the canonical mesh triangles (painted nearest-last into an index
    map of the destination), the least-squares affine fit outside the face.

    Args:
        src: (S, S, 3) uint8 crop.
        src_points, dst_points: (478, 2+) landmarks in crop pixels.

    Returns:
        (S, S, 3) uint8 warped crop.
    """
    s = src.shape[0]
    tris, _ = _mesh()
    sp = np.asarray(src_points, np.float64)[:, :2]
    dp = np.asarray(dst_points, np.float64)[:, :2]
    a, *_ = np.linalg.lstsq(np.c_[dp, np.ones(len(dp))], sp, rcond=None)   # (3, 2) dst->src
    d = np.concatenate([dp[tris], np.ones((len(tris), 3, 1))], 2)          # (F, 3, 3)
    ok = np.abs(np.linalg.det(d)) > 1e-6
    aff = np.repeat(a.T[None], len(tris), 0)                               # (F, 2, 3)
    aff[ok] = np.einsum("fvc,fvk->fck", sp[tris][ok], np.linalg.inv(d[ok]).transpose(0, 2, 1))
    index = np.full((s, s), -1, np.int32)
    xy = np.round(dp[tris] * 16).astype(np.int32)
    for f in np.flatnonzero(ok):
        cv2.fillConvexPoly(index, xy[f], int(f), lineType=cv2.LINE_8, shift=4)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    pix = np.stack([xx, yy, np.ones_like(xx)], -1)                          # (S, S, 3)
    m = np.where((index >= 0)[..., None],
                 np.einsum("hwck,hwk->hwc", aff[np.maximum(index, 0)], pix), pix @ a)
    m = m.astype(np.float32)
    return cv2.remap(src, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def default_warp_fn() -> tuple[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]]:
    """The warp used for the warp conditioning: the warp renderer
    (``ned.render.warp.warp_face``) applied in crop space when it is installed, else
    :func:`fallback_warp`.

    Returns (name, warp(src (S,S,3) uint8, src_points (478,3), dst_points (478,3)) -> (S,S,3)).
    """
    try:
        from ned.render.warp import warp_face
    except ImportError:
        return "fallback_piecewise_affine", fallback_warp

    def warp(src: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
        return warp_face(src, np.asarray(src_points, np.float64),
                         np.asarray(dst_points, np.float64))[0]

    return "ned.render.warp", warp
