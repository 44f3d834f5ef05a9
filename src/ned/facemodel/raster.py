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
        coef: (6, K) barycentric edge-function coefficients (a0, b0, c0, a1, b1, c1);
            w_i(x, y) = a_i x + b_i y + c_i, w_2 = 1 - w_0 - w_1.
        y: (3, K) vertex rows (pixels).

    Returns:
        (tri, row_y, x_first, count) arrays over all (triangle, row) pairs.
    """
    y0 = np.clip(np.ceil(y.min(0)), 0, size).astype(np.int64)
    y1 = np.clip(np.floor(y.max(0)), -1, size - 1).astype(np.int64)
    h = np.maximum(y1 - y0 + 1, 0)
    tri = np.repeat(np.arange(y.shape[1]), h)
    ry = y0[tri] + np.arange(int(h.sum())) - np.repeat(np.cumsum(h) - h, h)
    fy = ry.astype(np.float32)
    c = coef[:, tri]
    slopes = (c[0], c[3], -c[0] - c[3])
    offs = (c[1] * fy + c[2], c[4] * fy + c[5], 1.0 - (c[1] + c[4]) * fy - c[2] - c[5])
    tol = np.float32(1e-5)
    lo = np.full(len(tri), -np.inf, np.float32)
    hi = np.full(len(tri), np.inf, np.float32)
    empty = np.zeros(len(tri), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, off in zip(slopes, offs, strict=True):        # a x + off >= 0
            bound = -off / a
            lo = np.maximum(lo, np.where(a > 0, bound, -np.inf))
            hi = np.minimum(hi, np.where(a < 0, bound, np.inf))
            empty |= (a == 0) & (off < -tol)
    x_first = np.clip(np.ceil(lo - tol), 0, size).astype(np.int64)
    x_last = np.clip(np.floor(hi + tol), -1, size - 1).astype(np.int64)
    count = np.where(empty, 0, np.maximum(x_last - x_first + 1, 0))
    return tri, ry, x_first, count


@dataclass(frozen=True)
class Fragments:
    """Visible surface of B rasterised meshes: per covered pixel, the span that won.

    Attributes:
        pixels: (N,) int64 flat indices into (B, S, S) of covered pixels.
        x: (N,) float32 pixel column of each covered pixel.
        span: (N,) int64 winning span (triangle row) of each pixel.
        face: (R,) int64 triangle index (into the triangle list) of each span.
        vert: (R, 3) int64 global vertex indices (into B * V) of each span's triangle.
        w_row: (R, 2) float32 barycentrics w0, w1 at x = 0 on the span's row.
        w_dx: (R, 2) float32 their change per pixel along x.
        depth: (B * S * S,) float32 z-buffer (inf where uncovered).
    """

    pixels: np.ndarray
    x: np.ndarray
    span: np.ndarray
    face: np.ndarray
    vert: np.ndarray
    w_row: np.ndarray
    w_dx: np.ndarray
    depth: np.ndarray

    def interpolate(self, attributes: np.ndarray) -> np.ndarray:
        """(N, C) float32 values at the covered pixels of per-vertex attributes
        (B * V, C), or (V, C) shared by all B meshes (then ``vert`` is taken modulo V)."""
        a = np.asarray(attributes, np.float32)
        v = self.vert if a.shape[0] > int(self.vert.max(initial=0)) else self.vert % a.shape[0]
        a0, a1, a2 = a[v[:, 0]], a[v[:, 1]], a[v[:, 2]]
        row0 = a2 + self.w_row[:, :1] * (a0 - a2) + self.w_row[:, 1:] * (a1 - a2)
        dx = self.w_dx[:, :1] * (a0 - a2) + self.w_dx[:, 1:] * (a1 - a2)
        return row0[self.span] + dx[self.span] * self.x[:, None]


def fragments(vertices: np.ndarray, triangles: np.ndarray, size: int,
              cull: int = 0) -> Fragments:
    """Z-buffered visibility of B meshes sharing one triangle list (see :func:`rasterize`)."""
    b, n_v = vertices.shape[:2]
    n_f, n_px = len(triangles), size * size
    p = vertices[:, triangles].reshape(-1, 3, 3).transpose(2, 1, 0)      # (xyz, corner, B*F)
    x, y, z = p[0], p[1], p[2]
    area = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0])
    keep = np.abs(area) > 1e-8
    if cull:
        keep &= np.sign(area) == cull
    kidx = np.flatnonzero(keep)
    x, y, z, inv = x[:, kidx], y[:, kidx], z[:, kidx], 1.0 / area[kidx]
    coef = np.stack([(y[1] - y[2]) * inv, (x[2] - x[1]) * inv, (x[1] * y[2] - x[2] * y[1]) * inv,
                     (y[2] - y[0]) * inv, (x[0] - x[2]) * inv, (x[2] * y[0] - x[0] * y[2]) * inv])
    tri, ry, xf, cnt = _spans(coef, y, size)
    keep_rows = cnt > 0
    tri, ry, xf, cnt = tri[keep_rows], ry[keep_rows], xf[keep_rows], cnt[keep_rows]
    cr = coef[:, tri]
    fy = ry.astype(np.float32)
    w_row = np.stack([cr[1] * fy + cr[2], cr[4] * fy + cr[5]], 1)
    w_dx = np.stack([cr[0], cr[3]], 1)
    zt = z[:, tri]
    dz = w_dx[:, 0] * (zt[0] - zt[2]) + w_dx[:, 1] * (zt[1] - zt[2])
    zr = w_row[:, 0] * (zt[0] - zt[2]) + w_row[:, 1] * (zt[1] - zt[2]) + zt[2]
    glob = kidx[tri]
    base = (glob // n_f) * n_px + ry * size
    row = np.repeat(np.arange(len(tri)), cnt)
    px = xf[row] + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    depth = zr[row] + dz[row] * px.astype(np.float32)
    key = base[row] + px
    zbuf = np.full(b * n_px, np.inf, np.float32)
    np.minimum.at(zbuf, key, depth)
    win = depth <= zbuf[key]
    rbuf = np.full(b * n_px, -1, np.int64)
    rbuf[key[win]] = row[win]                  # equal depths: the last fragment wins
    covered = np.flatnonzero(rbuf >= 0)
    face = glob % n_f
    vert = triangles[face] + ((glob // n_f) * n_v)[:, None]
    return Fragments(pixels=covered, x=(covered % size).astype(np.float32), span=rbuf[covered],
                     face=face, vert=vert, w_row=w_row, w_dx=w_dx, depth=zbuf)


def rasterize(vertices: np.ndarray, triangles: np.ndarray, attributes: np.ndarray,
              size: int, cull: int = 0) -> Raster:
    """Rasterise B meshes sharing one triangle list.

    Args:
        vertices: (B, V, 3) x, y pixels, z depth (smaller = nearer).
        triangles: (F, 3) int vertex indices.
        attributes: (B, V, C) per-vertex values to interpolate.
        size: output is size x size.
        cull: 0 keeps all triangles; +1 / -1 keeps only triangles whose signed image area
            (x right, y down) has that sign (back-face culling).

    Returns:
        :class:`Raster`.
    """
    vertices = np.asarray(vertices, np.float32)
    attributes = np.asarray(attributes, np.float32)
    _check(vertices, triangles, attributes)
    triangles = np.asarray(triangles, np.int64)
    b, c = len(vertices), attributes.shape[2]
    fr = fragments(vertices, triangles, size, cull)
    image = np.zeros((b * size * size, c), np.float32)
    image[fr.pixels] = fr.interpolate(attributes.reshape(-1, c))
    tri_img = np.full(b * size * size, -1, np.int32)
    tri_img[fr.pixels] = fr.face[fr.span]
    return Raster(image=image.reshape(b, size, size, c),
                  coverage=(tri_img >= 0).reshape(b, size, size),
                  triangle=tri_img.reshape(b, size, size),
                  depth=fr.depth.reshape(b, size, size))
