"""A batched, deterministic CPU triangle rasteriser (numpy only) with a z-buffer.

Orthographic: vertices are already in pixel coordinates of the target image (pixel centres
at integer coordinates, the OpenCV convention) with a depth where smaller is nearer.
Every triangle's bounding box is expanded into candidate pixels in one vectorised pass;
barycentric coordinates decide coverage, the nearest fragment per pixel wins (z-buffer,
ties broken deterministically by fragment order), and per-vertex attributes are
interpolated with the winner's barycentrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ned.errors import NedError


@dataclass(frozen=True)
class Raster:
    """Result of :func:`rasterize` for B images of size S x S.

    Attributes:
        image: (B, S, S, C) float32 interpolated attributes (0 where uncovered).
        coverage: (B, S, S) bool, covered pixels.
        triangle: (B, S, S) int32 index of the visible triangle (-1 where uncovered).
        depth: (B, S, S) float32 depth of the visible surface (inf where uncovered).
    """

    image: np.ndarray
    coverage: np.ndarray
    triangle: np.ndarray
    depth: np.ndarray


def _check(vertices: np.ndarray, triangles: np.ndarray, attributes: np.ndarray) -> None:
    if vertices.ndim != 3 or vertices.shape[2] != 3:
        raise NedError(f"vertices must be (B, V, 3), got {vertices.shape}")
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise NedError(f"triangles must be (F, 3), got {triangles.shape}")
    if triangles.size and (triangles.min() < 0 or triangles.max() >= vertices.shape[1]):
        raise NedError("triangle indices out of range")
    if attributes.ndim != 3 or attributes.shape[:2] != vertices.shape[:2]:
        raise NedError(f"attributes must be (B, V, C) matching vertices {vertices.shape[:2]}, "
                       f"got {attributes.shape}")


def _spans(coef: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Scanline spans: per (triangle, pixel row) the range of pixels inside the triangle.

    Args:
        coef: (K, 6) barycentric edge-function coefficients (a0, b0, c0, a1, b1, c1).
        y: (K, 3) vertex rows (pixels).

    Returns:
        (tri, row_y, x_first, count) arrays over all (triangle, row) pairs.
    """
    y0 = np.clip(np.ceil(y.min(1)), 0, size).astype(np.int64)
    y1 = np.clip(np.floor(y.max(1)), -1, size - 1).astype(np.int64)
    h = np.maximum(y1 - y0 + 1, 0)
    tri = np.repeat(np.arange(len(y)), h)
    ry = y0[tri] + np.arange(int(h.sum())) - np.repeat(np.cumsum(h) - h, h)
    fy = ry.astype(np.float32)
    c = coef[tri]
    a = np.stack([c[:, 0], c[:, 3], -c[:, 0] - c[:, 3]], 1)
    off = np.stack([c[:, 1] * fy + c[:, 2], c[:, 4] * fy + c[:, 5],
                    1.0 - (c[:, 1] + c[:, 4]) * fy - c[:, 2] - c[:, 5]], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -off / a                                        # w_i(x) = a x + off >= 0
    tol = 1e-5
    lo = np.where(a > 0, bound, -np.inf).max(1)
    hi = np.where(a < 0, bound, np.inf).min(1)
    empty = ((a == 0) & (off < -tol)).any(1)
    x_first = np.clip(np.ceil(lo - tol), 0, size).astype(np.int64)
    x_last = np.clip(np.floor(hi + tol), -1, size - 1).astype(np.int64)
    count = np.where(empty, 0, np.maximum(x_last - x_first + 1, 0))
    return tri, ry, x_first, count


def rasterize(vertices: np.ndarray, triangles: np.ndarray, attributes: np.ndarray,
              size: int, cull: int = 0, chunk: int = 2) -> Raster:
    """Rasterise B meshes sharing one triangle list.

    Args:
        vertices: (B, V, 3) x, y pixels, z depth (smaller = nearer).
        triangles: (F, 3) int vertex indices.
        attributes: (B, V, C) per-vertex values to interpolate.
        size: output is size x size.
        cull: 0 keeps all triangles; +1 / -1 keeps only triangles whose signed image area
            (x right, y down) has that sign (back-face culling).
        chunk: frames rasterised together (small chunks stay in the CPU cache).

    Returns:
        :class:`Raster`.
    """
    vertices = np.asarray(vertices, np.float32)
    attributes = np.asarray(attributes, np.float32)
    _check(vertices, triangles, attributes)
    triangles = np.asarray(triangles, np.int64)
    parts = [_rasterize(vertices[i:i + chunk], triangles, attributes[i:i + chunk], size, cull)
             for i in range(0, len(vertices), chunk)]
    if len(parts) == 1:
        return parts[0]
    return Raster(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                    ("image", "coverage", "triangle", "depth")))


def _rasterize(vertices: np.ndarray, triangles: np.ndarray, attributes: np.ndarray,
               size: int, cull: int) -> Raster:
    b, n_v, c = vertices.shape[0], vertices.shape[1], attributes.shape[2]
    n_f, n_px = len(triangles), size * size
    p = vertices[:, triangles].reshape(-1, 3, 3)                # (B*F, 3, 3)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = np.abs(area) > 1e-8
    if cull:
        keep &= np.sign(area) == cull
    kidx = np.flatnonzero(keep)
    x, y, z, area = x[kidx], y[kidx], z[kidx], area[kidx]
    inv = 1.0 / area
    # barycentric edge functions w_i = a_i x + b_i y + c_i (i = 0, 1); w_2 = 1 - w_0 - w_1
    coef = np.stack([(y[:, 1] - y[:, 2]) * inv, (x[:, 2] - x[:, 1]) * inv,
                     (x[:, 1] * y[:, 2] - x[:, 2] * y[:, 1]) * inv,
                     (y[:, 2] - y[:, 0]) * inv, (x[:, 0] - x[:, 2]) * inv,
                     (x[:, 2] * y[:, 0] - x[:, 0] * y[:, 2]) * inv], 1)
    tri, ry, xf, cnt = _spans(coef, y, size)
    keep_rows = cnt > 0
    tri, ry, xf, cnt = tri[keep_rows], ry[keep_rows], xf[keep_rows], cnt[keep_rows]
    cr = coef[tri]
    fy = ry.astype(np.float32)
    w0r, w1r = cr[:, 1] * fy + cr[:, 2], cr[:, 4] * fy + cr[:, 5]    # at x = 0
    zt = z[tri]
    dz = cr[:, 0] * (zt[:, 0] - zt[:, 2]) + cr[:, 3] * (zt[:, 1] - zt[:, 2])
    zr = w0r * (zt[:, 0] - zt[:, 2]) + w1r * (zt[:, 1] - zt[:, 2]) + zt[:, 2]
    base = (kidx[tri] // n_f) * n_px + ry * size
    row = np.repeat(np.arange(len(tri)), cnt)
    px = xf[row] + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    fx = px.astype(np.float32)
    depth = zr[row] + dz[row] * fx
    key = base[row] + px
    zbuf = np.full(b * n_px, np.inf, np.float32)
    np.minimum.at(zbuf, key, depth)
    win = depth <= zbuf[key]
    rbuf = np.full(b * n_px, -1, np.int64)
    rbuf[key[win]] = row[win]
    covered = np.flatnonzero(rbuf >= 0)
    r = rbuf[covered]
    cx = (covered % size).astype(np.float32)
    w0 = w0r[r] + cr[r, 0] * cx
    w1 = w1r[r] + cr[r, 3] * cx
    face_row = kidx[tri] % n_f                                  # per span: face index
    vert_row = triangles[face_row] + ((kidx[tri] // n_f) * n_v)[:, None]
    vr = vert_row[r]
    flat_attr = attributes.reshape(-1, c)
    acc = w0[:, None] * flat_attr[vr[:, 0]]
    acc += w1[:, None] * flat_attr[vr[:, 1]]
    acc += (1.0 - w0 - w1)[:, None] * flat_attr[vr[:, 2]]
    image = np.zeros((b * n_px, c), np.float32)
    image[covered] = acc
    tri_img = np.full(b * n_px, -1, np.int32)
    tri_img[covered] = face_row[r]
    return Raster(image=image.reshape(b, size, size, c),
                  coverage=(tri_img >= 0).reshape(b, size, size),
                  triangle=tri_img.reshape(b, size, size),
                  depth=zbuf.reshape(b, size, size))
