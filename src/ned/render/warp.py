"""Train-free renderer: move the face from its measured to its edited geometry by a
mesh-guided piecewise-affine warp of the frame's own pixels.

The canonical mesh's 898 triangles (mouth and eye openings included, so teeth and the
inner mouth come from the same frame) plus a ring of triangles from the face oval out to
fixed anchors on a box around the face make one triangulation. It is rasterised in the
edited geometry back to front; every covered pixel looks up its source position through
its triangle's affine map, and one ``cv2.remap`` resamples the frame. Anchors never move,
so the warp fades to nothing at the box and a zero edit returns the frame unchanged.

The mesh has no iris triangles: the eye openings are spanned by lid-to-lid triangles, so
opening the lids would stretch the iris (and the lashes along the lids) vertically. With
``rigid_iris`` the iris disc is instead translated with the eye (the mean displacement of
the eye contour, no scaling): inside the edited opening, pixels whose translated source lies
on the source's visible iris read it there. A surprised edit of single_face.mp4 otherwise
stretches the iris vertically by 31 % on average and up to 57 % (see ``tests/render/test_warp.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ned.errors import NedError
from ned.topology import (
    FACE_OVAL,
    LEFT_EYE,
    LEFT_IRIS,
    LIPS_INNER,
    N_LANDMARKS,
    N_MESH,
    RIGHT_EYE,
    RIGHT_IRIS,
)


@dataclass(frozen=True)
class WarpConfig:
    """Options of the warp renderer.

    Attributes:
        anchor_scale: side of the anchor box relative to the face's landmark box.
        anchors_per_side: anchors on each side of the box (corners included once).
        max_shift: largest allowed displacement of a landmark, in inter-ocular distances;
            larger edits are scaled down (no tearing on outliers).
        map_step: the backward map is computed every ``map_step`` pixels and upsampled
            (0 = automatic: about 240 map points across the face box).
        rigid_iris: move the iris rigidly with its eye instead of stretching it with the
            lids.
        still_teeth: where the edited mouth opening overlaps the measured one, show the
            frame's own mouth interior where it is (the teeth do not move when the lips
            close over them or part), instead of squeezing or stretching it with the lips.
        prefilter: where the warp squeezes the skin (a lowered brow over its lid), read
            the source blurred to the squeeze instead of sampling it sparsely
            (:func:`prefilter_squeezed`).
    """

    anchor_scale: float = 1.7
    anchors_per_side: int = 4
    max_shift: float = 0.35
    map_step: int = 0
    rigid_iris: bool = True
    still_teeth: bool = True
    prefilter: bool = True


@functools.lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(898, 3) int32 triangles of the canonical mesh (from the shipped bundle)."""
    from ned.facemodel.mesh import load_canonical_mesh

    return np.ascontiguousarray(load_canonical_mesh().triangles, np.int32)


def anchor_points(points: np.ndarray, shape: tuple[int, int], config: WarpConfig) -> np.ndarray:
    """Fixed anchors on a box ``anchor_scale`` times the face's landmark box.

    Args:
        points: (478, 2+) landmarks in pixels.
        shape: (H, W) of the frame (unused but for documentation of the pixel frame).
        config: warp options.

    Returns:
        (4 * anchors_per_side, 2) float64 anchor positions (may lie outside the frame).
    """
    xy = np.asarray(points)[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    c, half = (lo + hi) / 2, (hi - lo) / 2 * config.anchor_scale
    n = config.anchors_per_side
    t = np.arange(n) / n
    x0, y0, x1, y1 = c[0] - half[0], c[1] - half[1], c[0] + half[0], c[1] + half[1]
    top = np.stack([x0 + (x1 - x0) * t, np.full(n, y0)], 1)
    right = np.stack([np.full(n, x1), y0 + (y1 - y0) * t], 1)
    bottom = np.stack([x1 - (x1 - x0) * t, np.full(n, y1)], 1)
    left = np.stack([np.full(n, x0), y1 - (y1 - y0) * t], 1)
    return np.concatenate([top, right, bottom, left])


def ring_triangles(oval: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Triangles between the face oval and the anchors (indices into oval + anchors).

    Args:
        oval: (K, 2) face-oval points in order.
        anchors: (A, 2) anchor points.

    Returns:
        (F, 3) int32 triangles covering the box minus the oval.
    """
    from scipy.spatial import Delaunay

    pts = np.concatenate([oval, anchors])
    tri = Delaunay(pts).simplices.astype(np.int32)
    k = len(oval)
    all_oval = (tri < k).all(1)
    if all_oval.any():
        outside = ~_inside_polygon(pts[tri[all_oval]].mean(1), oval)
        keep = ~all_oval
        keep[np.flatnonzero(all_oval)[outside]] = True
        tri = tri[keep]
    return tri


def _inside_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(N,) bool: points (N, 2) strictly inside the closed polygon (K, 2), even-odd rule
    (vectorised: no per-point call)."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = poly[:, 0][None], poly[:, 1][None]
    x1, y1 = np.roll(x0, -1, axis=1), np.roll(y0, -1, axis=1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return (crosses & (x < xs)).sum(1) % 2 == 1


def _affines(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(F, 2, 3) affine maps taking each dst triangle onto its src triangle.

    With edge matrices E_d = [d1 - d0, d2 - d0] and E_s likewise (2x2 per triangle), the
    map is p -> E_s E_d^-1 (p - d0) + s0; degenerate dst triangles (they cover no pixel)
    get the translation s0 - d0. (The 2x2 algebra is written out: it runs ~950 times a
    frame.)
    """
    (a, c), (b, d) = (dst[:, 1] - dst[:, 0]).T, (dst[:, 2] - dst[:, 0]).T  # E_d = [[a, b], [c, d]]
    (p, r), (q, t) = (src[:, 1] - src[:, 0]).T, (src[:, 2] - src[:, 0]).T  # E_s = [[p, q], [r, t]]
    det = a * d - b * c
    ok = np.abs(det) > 1e-9
    inv = 1.0 / np.where(ok, det, 1.0)
    out = np.empty((len(dst), 2, 3))
    # E_s adj(E_d) / det, adj(E_d) = [[d, -b], [-c, a]]
    out[:, 0, 0] = np.where(ok, (p * d - q * c) * inv, 1.0)
    out[:, 0, 1] = np.where(ok, (q * a - p * b) * inv, 0.0)
    out[:, 1, 0] = np.where(ok, (r * d - t * c) * inv, 0.0)
    out[:, 1, 1] = np.where(ok, (t * a - r * b) * inv, 1.0)
    lin = out[:, :, :2]
    out[:, :, 2] = src[:, 0] - (lin * dst[:, 0, None, :]).sum(2)
    return out


def limit_shift(src: np.ndarray, dst: np.ndarray, max_shift: float) -> np.ndarray:
    """Scale down a displacement whose largest landmark shift exceeds ``max_shift`` IOD."""
    from ned.topology import inter_ocular

    shift = np.linalg.norm(dst[:, :2] - src[:, :2], axis=1).max()
    limit = max_shift * float(inter_ocular(src))
    if shift <= limit or shift == 0:
        return dst
    return src + (dst - src) * (limit / shift)


def warp_face(image: np.ndarray, src: np.ndarray, dst: np.ndarray,
              config: WarpConfig | None = None) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Warp the face in ``image`` from geometry ``src`` to geometry ``dst``.

    Args:
        image: (H, W, 3) uint8 frame.
        src: (478, 3) measured landmarks in pixels (x, y, depth; smaller depth is nearer).
        dst: (478, 3) edited landmarks in pixels.
        config: warp options.

    Returns:
        (warped, roi): the warped frame (H, W, 3) uint8, equal to ``image`` outside
        ``roi`` = (x0, y0, x1, y1), the pixel box where anything may have changed.
    """
    patch, roi = warp_patch(image, src, dst, config)
    out = image.copy()
    x0, y0, x1, y1 = roi
    out[y0:y1, x0:x1] = patch
    return out, roi


def warp_patch(image: np.ndarray, src: np.ndarray, dst: np.ndarray,
               config: WarpConfig | None = None,
               box: tuple[int, int, int, int] | None = None
               ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Like :func:`warp_face` but returns only the changed box.

    Args:
        box: (x0, y0, x1, y1): warp only the part of the changed box inside this one (the
            pixels a later blend can use); None = all of it.

    Returns:
        (patch, roi): (y1 - y0, x1 - x0, 3) uint8 warped pixels of ``roi`` = (x0, y0, x1, y1).
    """
    cfg = config or WarpConfig()
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if image.ndim != 3 or src.shape != (N_LANDMARKS, 3) or dst.shape != (N_LANDMARKS, 3):
        raise NedError(f"warp_face needs (H, W, 3) image and ({N_LANDMARKS}, 3) points, got "
                       f"{image.shape}, {src.shape}, {dst.shape}")
    h, w = image.shape[:2]
    dst = limit_shift(src, dst, cfg.max_shift)
    anchors = anchor_points(src, (h, w), cfg)
    x0, y0 = np.floor(np.maximum(anchors.min(0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(anchors.max(0) + 1, [w, h])).astype(int)
    if box is not None:
        x0, y0 = max(x0, int(box[0])), max(y0, int(box[1]))
        x1, y1 = min(x1, int(box[2])), min(y1, int(box[3]))
    x1, y1 = max(x1, x0), max(y1, y0)
    roi = (int(x0), int(y0), int(x1), int(y1))
    if x1 - x0 < 2 or y1 - y0 < 2 or np.array_equal(src[:, :2], dst[:, :2]):
        return image[y0:y1, x0:x1].copy(), roi
    step = cfg.map_step or max(1, round(max(x1 - x0, y1 - y0) / 240))
    mapx, mapy, squeezed = _backward_map(src, dst, anchors, roi, step)
    squeeze = (squeeze_weights(mapx, mapy, squeezed)
               if cfg.prefilter and squeezed is not None else None)
    if cfg.rigid_iris:
        rigid_iris(mapx, mapy, src, dst, roi)
    if cfg.still_teeth:
        still_teeth(mapx, mapy, src, dst, roi)
    # bicubic: a bilinear read of the shifted face blurs it (the face's high-frequency
    # energy fell to 0.74 of the source's on carphone's 22 px inter-ocular face, 0.91 on
    # single_face); bicubic keeps 0.87 / 1.12 for about 1 ms more per 640x360 frame
    patch = cv2.remap(image, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if squeeze is not None:
        prefilter_squeezed(patch, image, mapx, mapy, squeeze)
    return patch, roi


#: Area ratio (source over edited) from which a warped triangle reads its source through a
#: prefilter: squeezed this much, a pixel's neighbours read source pixels several apart and
#: the texture aliases (a frown at browDown gain 1.3 squeezed the skin along a brow's upper
#: edge 12 times into a strip of one or two pixels: the hairs came out as a dotted line).
#: Only where the map is computed at every pixel (a face box under about 360 px, inter-
#: ocular distance under about 110 px): on a larger face the same squeeze leaves a strip
#: several pixels tall, and prefiltering a 4K face cost 180 ms a frame (the render's 415).
SQUEEZE_FROM = 2.0


@dataclass(frozen=True)
class Squeeze:
    """Where a piecewise-affine map squeezes its source (:func:`squeeze_weights`).

    Attributes:
        box: (x0, y0, x1, y1) pixels of the maps it covers.
        weight: (y1 - y0, x1 - x0) float32 in [0, 1]: how much each pixel reads the
            prefiltered source.
        sigma: the prefilter's Gaussian sigma, source pixels.
        mapx, mapy: the map's values in ``box`` it was measured on (a pixel whose map is
            later replaced, a rigid iris or still teeth, is not prefiltered).
    """

    box: tuple[int, int, int, int]
    weight: np.ndarray
    sigma: float
    mapx: np.ndarray
    mapy: np.ndarray


def squeeze_weights(mapx: np.ndarray, mapy: np.ndarray, box: tuple[int, int, int, int]
                    ) -> Squeeze | None:
    """How much each pixel of ``box`` should read a prefiltered source.

    A pixel's squeeze is the area ratio of the backward map (its Jacobian's determinant);
    from :data:`SQUEEZE_FROM` up it reads the source blurred by half the largest sample
    spacing in the box, fully from twice :data:`SQUEEZE_FROM`.

    Args:
        mapx, mapy: (h, w) float32 piecewise-affine backward map (source x, y per pixel).
        box: (x0, y0, x1, y1) pixels holding every squeezed triangle.

    Returns:
        :class:`Squeeze`, or None where nothing is squeezed enough.
    """
    h, w = mapx.shape
    bx0, by0 = max(box[0] - 2, 0), max(box[1] - 2, 0)
    bx1, by1 = min(box[2] + 3, w), min(box[3] + 3, h)
    if bx1 - bx0 < 3 or by1 - by0 < 3:
        return None
    mx, my = mapx[by0:by1, bx0:bx1].copy(), mapy[by0:by1, bx0:bx1].copy()
    jxy, jxx = np.gradient(mx)  # d/dy, d/dx of the source x
    jyy, jyx = np.gradient(my)
    ratio = np.abs(jxx * jyy - jxy * jyx)
    weight = np.clip((ratio - SQUEEZE_FROM) / SQUEEZE_FROM, 0.0, 1.0).astype(np.float32)
    if not weight.any():
        return None
    sigma = float(np.clip(0.5 * np.sqrt(ratio[weight > 0].max()), 0.7, 2.5))
    # a strip squeezed under a pixel's height is hit by some pixel centres along it and
    # missed by others (a dotted line of whatever it holds): its neighbours share it
    weight = cv2.GaussianBlur(weight, (0, 0), 1.0)
    return Squeeze((bx0, by0, bx1, by1), weight, sigma, mx, my)


def prefilter_squeezed(patch: np.ndarray, image: np.ndarray, mapx: np.ndarray,
                       mapy: np.ndarray, squeeze: Squeeze) -> None:
    """Where the warp squeezes the source, read it blurred to the squeeze, in place.

    The squeezed pixels read the source blurred by ``squeeze.sigma`` through the map
    smoothed by one pixel, blended in by ``squeeze.weight``; pixels whose map was replaced
    after it was measured (a rigid iris, still teeth) keep their read.

    Args:
        patch: (h, w, 3) uint8 warped pixels of the maps' box.
        image: (H, W, 3) uint8 source frame the maps read.
        mapx, mapy: (h, w) float32 backward map (source x, y of each patch pixel).
        squeeze: :func:`squeeze_weights` of the piecewise-affine map.
    """
    bx0, by0, bx1, by1 = squeeze.box
    mx, my = mapx[by0:by1, bx0:bx1], mapy[by0:by1, bx0:bx1]
    weight = np.where((mx == squeeze.mapx) & (my == squeeze.mapy), squeeze.weight, 0.0)
    sigma = squeeze.sigma
    reach = int(np.ceil(3 * sigma)) + 2
    H, W = image.shape[:2]
    sx0 = int(np.clip(np.floor(mx.min()) - reach, 0, W - 1))
    sy0 = int(np.clip(np.floor(my.min()) - reach, 0, H - 1))
    sx1 = int(np.clip(np.ceil(mx.max()) + reach + 1, sx0 + 1, W))
    sy1 = int(np.clip(np.ceil(my.max()) + reach + 1, sy0 + 1, H))
    blurred = cv2.GaussianBlur(image[sy0:sy1, sx0:sx1], (0, 0), sigma)
    smx = cv2.GaussianBlur(mx, (0, 0), 1.0) - np.float32(sx0)
    smy = cv2.GaussianBlur(my, (0, 0), 1.0) - np.float32(sy0)
    soft = cv2.remap(blurred, smx, smy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    region = patch[by0:by1, bx0:bx1]
    wgt = weight[..., None].astype(np.float32)
    region[:] = np.round(region * (1.0 - wgt) + soft * wgt).astype(np.uint8)


def _backward_map(src: np.ndarray, dst: np.ndarray, anchors: np.ndarray,
                  roi: tuple[int, int, int, int], step: int
                  ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
    """Source position of every ROI pixel: (h, w) float32 maps for ``cv2.remap``, and the
    ROI pixel box (x0, y0, x1, y1) of the triangles it squeezes by :data:`SQUEEZE_FROM`
    or more (None: none, or a map computed on a coarser grid than the pixels).

    The map is piecewise affine, hence continuous: it is computed on a grid of every
    ``step`` pixels and bilinearly upsampled (exact inside triangles, smooth across edges).
    """
    x0, y0, x1, y1 = roi
    tris = mesh_triangles()
    oval = list(FACE_OVAL)
    ring = ring_triangles(dst[oval, :2], anchors)
    v_src = np.concatenate([src[:N_MESH, :2], src[oval, :2], anchors])
    v_dst = np.concatenate([dst[:N_MESH, :2], dst[oval, :2], anchors])
    order = np.argsort(-dst[tris, 2].mean(1), kind="stable")  # far first, near painted last
    all_tris = np.concatenate([ring + N_MESH, tris[order]])
    gw, gh = -(-(x1 - x0 - 1) // step) + 1, -(-(y1 - y0 - 1) // step) + 1
    ids = _raster_ids((v_dst[all_tris] - (x0, y0)) / step, (gh, gw))
    aff = _affines(v_src[all_tris], v_dst[all_tris]).astype(np.float32)
    box = None
    if step == 1:  # see SQUEEZE_FROM: not for large faces
        lin = aff[:, :, :2]
        squeezed = np.abs(lin[:, 0, 0] * lin[:, 1, 1] - lin[:, 0, 1] * lin[:, 1, 0]) >= SQUEEZE_FROM
        if squeezed.any():
            corners = v_dst[all_tris[squeezed]].reshape(-1, 2) - (x0, y0)
            lo, hi = np.floor(corners.min(0)).astype(int), np.ceil(corners.max(0)).astype(int)
            box = (int(lo[0]), int(lo[1]), int(hi[0]) + 1, int(hi[1]) + 1)
    # id 0 (no triangle) maps every pixel to itself
    aff = np.concatenate([np.array([[[1, 0, 0], [0, 1, 0]]], np.float32), aff])
    gy, gx = _grid(gh, gw)
    gx, gy = gx * np.float32(step) + np.float32(x0), gy * np.float32(step) + np.float32(y0)
    coef = aff.reshape(len(aff), 6).T.copy()  # (6, F + 1); each pixel takes its triangle's
    idx = ids.astype(np.intp)
    mapx, mapy = _affine_at(coef[:3], idx, gx, gy), _affine_at(coef[3:], idx, gx, gy)
    if step > 1:  # corner-aligned upsampling: fine (x, y) reads coarse (x / step, y / step)
        up = np.array([[1.0 / step, 0, 0], [0, 1.0 / step, 0]])
        size = (x1 - x0, y1 - y0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        mapx = cv2.warpAffine(mapx, up, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        mapy = cv2.warpAffine(mapy, up, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return mapx, mapy, box


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) float32 pixel grids of an (h, w) box (read-only, cached: box sizes repeat)."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    gy.flags.writeable = gx.flags.writeable = False
    return gy, gx


def _affine_at(coef: np.ndarray, idx: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """coef[0][idx] * gx + coef[1][idx] * gy + coef[2][idx], in place where possible.
    coef (3, F) float32; idx, gx, gy (h, w). Returns (h, w) float32."""
    out = coef[0].take(idx)
    out *= gx
    tmp = coef[1].take(idx)
    tmp *= gy
    out += tmp
    out += coef[2].take(idx)
    return out


def rigid_iris(mapx: np.ndarray, mapy: np.ndarray, src: np.ndarray, dst: np.ndarray,
               roi: tuple[int, int, int, int]) -> None:
    """Make the backward map a pure translation on each eye's visible iris, in place.

    Args:
        mapx, mapy: (h, w) float32 backward map of ``roi`` (source x, y of each pixel).
        src: (478, 2+) measured landmarks, pixels.
        dst: (478, 2+) edited landmarks, pixels.
        roi: (x0, y0, x1, y1) of the maps.
    """
    x0, y0 = roi[0], roi[1]
    h, w = mapx.shape
    for eye, iris in ((LEFT_EYE, LEFT_IRIS), (RIGHT_EYE, RIGHT_IRIS)):
        shift = (dst[list(eye), :2] - src[list(eye), :2]).mean(0)
        centre = src[iris[0], :2]
        radius = float(np.linalg.norm(src[list(iris[1:]), :2] - centre, axis=1).mean())
        lo = np.floor(np.minimum(dst[list(eye), :2].min(0), centre + shift - radius)) - 1
        hi = np.ceil(np.maximum(dst[list(eye), :2].max(0), centre + shift + radius)) + 2
        bx0, by0 = np.maximum(lo - (x0, y0), 0).astype(int)
        bx1, by1 = np.minimum(hi - (x0, y0), (w, h)).astype(int)
        if bx1 <= bx0 or by1 <= by0 or radius <= 0:
            continue
        yy, xx = np.mgrid[by0:by1, bx0:bx1].astype(np.float32)
        sx, sy = xx + x0 - shift[0], yy + y0 - shift[1]  # translated source position
        inside = (sx - centre[0]) ** 2 + (sy - centre[1]) ** 2 <= radius ** 2
        inside &= polygon_mask(dst[list(eye), :2] - (x0 + bx0, y0 + by0), inside.shape)
        inside &= polygon_mask(src[list(eye), :2] - (x0 + bx0 - shift[0], y0 + by0 - shift[1]),
                              inside.shape)
        mapx[by0:by1, bx0:bx1][inside] = sx[inside]
        mapy[by0:by1, bx0:bx1][inside] = sy[inside]


#: The least drop of the jaw, in pixels, that parts the teeth (less: the interior is still).
MIN_JAW_PX = 1.0
#: Pixels each set of parted teeth reaches into the gap: the texture under its
#: anti-aliased edges (:func:`teeth_parts`' coverage).
TEETH_REACH = 1.0
_CHIN, _UPPER_LIP_MID, _LOWER_LIP_MID = 152, 13, 14


def jaw_drop(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2,) pixels: how far an edit drops the jaw (the chin's move along the line from the
    upper lip to the chin, when it opens the mouth by :data:`MIN_JAW_PX` or more), else 0.

    A posture that drops the jaw (surprise, fear) carries the lower teeth with it; the
    speech's own jaw motion is already in the frame. The teeth part by no more than the
    lips do (the opening's growth between the middle inner-lip points along that line):
    where the edit keeps the source's lips together (``ned.editing.geometry.keep_contact``)
    the dropped chin parts nothing, and no gap opens behind closed lips.

    Args:
        src: (478, 2+) measured landmarks, pixels.
        dst: (478, 2+) edited landmarks, pixels.
    """
    u = np.asarray(src[_CHIN, :2] - src[_UPPER_LIP_MID, :2], np.float64)
    n = float(np.hypot(*u))
    if n < 1e-6:
        return np.zeros(2)
    u /= n
    d = float(np.dot(np.asarray(dst[_CHIN, :2] - src[_CHIN, :2], np.float64), u))
    parted = float(np.dot(np.asarray(dst[_LOWER_LIP_MID, :2] - dst[_UPPER_LIP_MID, :2]
                                     - src[_LOWER_LIP_MID, :2] + src[_UPPER_LIP_MID, :2],
                                     np.float64), u))
    d = min(d, parted)
    return u * d if d >= MIN_JAW_PX else np.zeros(2)


def teeth_parts(src: np.ndarray, dst: np.ndarray, off: tuple[float, float],
                shape: tuple[int, int], *, reach: float = 0.0, coverage: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Where the frame's own mouth interior shows in the edited opening, in a box.

    Across the mouth (perpendicular to the jaw's drop), each slice of the measured opening
    is split in the middle of its height, the split line smoothed across the slices (a
    geometric rule: it holds still from frame to frame; the darkest line between the
    teeth, tried first, jumped between frames and made the gap flicker). Above it (the
    upper teeth, fixed to the skull) the interior stays where it is, below it (the lower
    teeth, the tongue) it moves with the edit's :func:`jaw_drop`, and the band the drop
    opens between the two is the gap.  What the edited opening shows beyond all of them
    is new (lips parted wider than the frame's).

    The gap's two edges are lines (the split, and the split moved by the jaw): with
    ``coverage`` it comes anti-aliased, each pixel covered by the share of it on the
    gap's side instead of all or nothing (a staircase of whole pixels along a sloping
    mouth), and ``reach`` lets each set of teeth extend under those edges.

    Args:
        src, dst: (478, 2+) measured and edited landmarks, pixels.
        off: (x, y) of the box's corner in frame pixels.
        shape: (h, w) of the box.
        reach: pixels each set of teeth reaches past the split into the gap (0: the parts
            do not overlap).
        coverage: give the gap as (h, w) float32 coverage in [0, 1] instead of a mask.

    Returns:
        (upper, lower, gap, jaw): (h, w) bool masks of the box (``lower`` already moved),
        the gap (bool, or float32 with ``coverage``; None without a jaw drop) and the
        (2,) jaw drop in pixels.
    """
    split = _teeth_split(src, dst, off, shape)
    if split is None:
        opening = polygon_mask(np.asarray(src, np.float64)[list(LIPS_INNER), :2] - off,
                               shape)
        return opening, np.zeros(shape, bool), None, np.zeros(2)
    opening, d, mid_px, inside, jaw, drop = split
    lower = (opening & (d > mid_px - reach)).astype(np.uint8)
    m = np.float32([[1, 0, jaw[0]], [0, 1, jaw[1]]])
    lower = cv2.warpAffine(lower, m, shape[::-1], flags=cv2.INTER_NEAREST) > 0
    if coverage:
        gap = (np.clip(d - mid_px + 0.5, 0.0, 1.0) * np.clip(mid_px + drop - d + 0.5, 0.0, 1.0)
               * inside).astype(np.float32)
    else:
        gap = inside & (d > mid_px) & (d <= mid_px + drop + 0.5) & ~lower
    return opening & (d <= mid_px + reach), lower, gap, jaw


def _teeth_split(src: np.ndarray, dst: np.ndarray, off: tuple[float, float],
                 shape: tuple[int, int]) -> tuple[np.ndarray, ...] | None:
    """The split of :func:`teeth_parts`: (opening (h, w) bool, d (h, w) distance towards
    the chin, the split's d at each pixel (h, w), inside (h, w) bool: within the slices
    the opening crosses, the (2,) jaw drop, its length), or None without a jaw drop."""
    jaw = jaw_drop(src, dst)
    if not jaw.any():  # most frames of most edits: no mask to build
        return None
    opening = polygon_mask(np.asarray(src, np.float64)[list(LIPS_INNER), :2] - off, shape)
    if opening.sum() < 4:
        return None
    drop = float(np.hypot(*jaw))
    down = jaw / drop
    gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    t = gx * down[1] - gy * down[0]  # across the mouth
    d = gx * down[0] + gy * down[1]  # towards the chin
    t0 = float(np.floor(t[opening].min()))
    n_bins = int(np.ceil(t[opening].max() - t0)) + 1
    tb = np.clip(np.round(t - t0).astype(np.intp), 0, n_bins - 1)
    lo, hi = np.full(n_bins, np.inf), np.full(n_bins, -np.inf)
    np.minimum.at(lo, tb[opening], d[opening])
    np.maximum.at(hi, tb[opening], d[opening])
    ok = np.flatnonzero(np.isfinite(lo))  # the slices the opening crosses
    mid = (lo[ok] + hi[ok]) / 2
    if len(ok) >= 5:  # one line across the mouth, not a staircase of slices
        from scipy.ndimage import median_filter, uniform_filter1d

        mid = uniform_filter1d(median_filter(mid, 7, mode="nearest"), 5, mode="nearest")
    mid_px = np.interp(t - t0, ok.astype(np.float64), mid)
    inside = (t - t0 >= ok[0] - 0.5) & (t - t0 <= ok[-1] + 0.5)
    return opening, d, mid_px, inside, jaw, drop


def still_teeth(mapx: np.ndarray, mapy: np.ndarray, src: np.ndarray, dst: np.ndarray,
                roi: tuple[int, int, int, int]) -> None:
    """Show the frame's own mouth interior where the edited opening covers it, in place:
    the upper teeth stay where they are while the lips move over them (an edit changes
    the lips' posture, not the teeth), the lower teeth move with a dropped jaw
    (:func:`teeth_parts`).

    Args:
        mapx, mapy: (h, w) float32 backward map of ``roi``.
        src: (478, 2+) measured landmarks, pixels.
        dst: (478, 2+) edited landmarks, pixels.
        roi: (x0, y0, x1, y1) of the maps.
    """
    x0, y0 = roi[0], roi[1]
    h, w = mapx.shape
    lips_s, lips_d = src[list(LIPS_INNER), :2], dst[list(LIPS_INNER), :2]
    # the box of both openings and of the measured one moved with the jaw
    reach = np.concatenate([lips_s, lips_s + jaw_drop(src, dst), lips_d])
    lo, hi = np.floor(reach.min(0)) - 1, np.ceil(reach.max(0)) + 2
    bx0, by0 = np.maximum(lo - (x0, y0), 0).astype(int)
    bx1, by1 = np.minimum(hi - (x0, y0), (w, h)).astype(int)
    if bx1 <= bx0 or by1 <= by0:
        return
    shape = (by1 - by0, bx1 - bx0)
    off = (x0 + bx0, y0 + by0)
    edited = polygon_mask(lips_d - off, shape)
    upper, lower, _, jaw = teeth_parts(src, dst, off, shape, reach=TEETH_REACH)
    for part, shift in ((upper, (0.0, 0.0)), (lower, jaw)):
        inside = edited & part
        if not inside.any():
            continue
        yy, xx = np.nonzero(inside)
        mapx[by0:by1, bx0:bx1][inside] = (xx + off[0] - shift[0]).astype(np.float32)
        mapy[by0:by1, bx0:bx1][inside] = (yy + off[1] - shift[1]).astype(np.float32)


def polygon_mask(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: pixels inside the polygon (N, 2), pixel coordinates of the box."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return m > 0


def _raster_ids(tri_xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Paint triangles in order into an id image (1-based, 0 = none).

    Args:
        tri_xy: (F, 3, 2) triangle corners in ROI pixels.
        shape: (h, w) of the ROI.

    Returns:
        (h, w) uint16 ids.
    """
    ids = np.zeros(shape, np.uint16)
    fill = cv2.fillConvexPoly  # ~950 calls a frame: positional arguments are 20% faster
    for k, p in enumerate(np.round(tri_xy * 16).astype(np.int32), 1):
        fill(ids, p, k, cv2.LINE_8, 4)
    return ids


def fold_fraction(points: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of visible mesh triangles whose orientation flips between two geometries.

    Args:
        points: (478, 2+) warped geometry in pixels.
        reference: (478, 2+) the measured geometry.

    Returns:
        Fraction in [0, 1] of the triangles (ignoring slivers of at most a tenth of the
        median area: :func:`ned.facemodel.deform.front_triangles`) whose orientation
        differs between the two geometries.
    """
    from ned.facemodel.deform import flipped, front_triangles

    tris = mesh_triangles()
    ref = np.asarray(reference)
    front = front_triangles(ref, tris)
    if not front.any():
        return 0.0
    return float(flipped(np.asarray(points), ref, tris, front).sum() / front.sum())
