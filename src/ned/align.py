"""Similarity alignment of faces to a fixed template crop, and its exact inverse.

The template places rigid upper-face points (eye corners, nose ridge and tip, forehead,
temples) of a frontal face in a 256x256 crop, eyes at y = 100 and 92 px apart at the
outer corners, chin near y = 221. Only rigid points are used so speech does not move the
crop. Other sizes scale the template.
"""

from __future__ import annotations

import cv2
import numpy as np

from ned.errors import NedError
from ned.topology import N_LANDMARKS, N_MESH

#: Landmark indices used for alignment, and their template positions in a 256 crop.
TEMPLATE_POINTS = (33, 133, 362, 263, 168, 6, 1, 10, 127, 356)
TEMPLATE_256 = np.array([[82, 100], [110, 100], [146, 100], [174, 100], [128, 95],
                         [128, 102], [128, 133], [128, 46], [58, 109], [198, 109]],
                        np.float64)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2-D similarity (Umeyama) mapping ``src`` onto ``dst``.

    Args:
        src: (N, 2) points.
        dst: (N, 2) points.

    Returns:
        (2, 3) float64 matrix M with dst ~ M[:, :2] @ src + M[:, 2].
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s ** 2).sum() / len(s)
    if var <= 1e-12:
        raise NedError("alignment points are degenerate")
    cov = d.T @ s / len(s)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / var
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def alignment_matrices(landmarks: np.ndarray, size: int = 256) -> np.ndarray:
    """Image -> crop similarity transforms for each frame.

    Args:
        landmarks: (T, 478, 2+) or (478, 2+) landmarks in pixels.
        size: crop side in pixels.

    Returns:
        (T, 2, 3) float64 (or (2, 3) for a single frame): crop = M @ [x, y, 1].
    """
    lm = np.asarray(landmarks)
    single = lm.ndim == 2
    if single:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1] < N_MESH or lm.shape[2] < 2:
        raise NedError(f"alignment needs (T, {N_LANDMARKS}, 2+) landmarks, got "
                       f"{np.shape(landmarks)}")
    if size < 16:
        raise NedError(f"crop size must be >= 16, got {size}")
    dst = TEMPLATE_256 * (size / 256.0)
    out = np.stack([similarity(f[list(TEMPLATE_POINTS), :2], dst) for f in lm])
    return out[0] if single else out


def invert(m: np.ndarray) -> np.ndarray:
    """Exact inverse of a (2, 3) affine transform (crop -> image)."""
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) transform to (..., 2+) points; extra columns (depth) are scaled.

    Returns:
        Same shape as ``points``; x, y mapped, a third column multiplied by the scale.
    """
    p = np.asarray(points, np.float64)
    out = p.copy()
    out[..., :2] = p[..., :2] @ m[:, :2].T + m[:, 2]
    if p.shape[-1] > 2:
        out[..., 2:] = p[..., 2:] * np.sqrt(abs(np.linalg.det(m[:, :2])))
    return out


def warp_to_crop(image: np.ndarray, m: np.ndarray, size: int = 256) -> np.ndarray:
    """Cut the aligned face crop out of a frame.

    Args:
        image: (H, W, C) or (H, W) frame.
        m: (2, 3) image -> crop transform.
        size: crop side.

    Returns:
        (size, size, C) crop, same dtype; outside the frame is replicated border.
    """
    return cv2.warpAffine(image, np.asarray(m, np.float64), (size, size),
                          flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def warp_from_crop(crop: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Put a crop back into frame coordinates (the exact inverse of :func:`warp_to_crop`).

    Args:
        crop: (S, S, C) or (S, S) crop.
        m: (2, 3) image -> crop transform used to cut it.
        shape: (H, W) of the frame.

    Returns:
        (H, W, C) image; pixels that map outside the crop are 0.
    """
    return cv2.warpAffine(crop, np.asarray(m, np.float64), (int(shape[1]), int(shape[0])),
                          flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
