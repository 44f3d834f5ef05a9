"""Appearance that follows the edited expression: creases, the mouth's interior, the eyes.

A warp moves skin but cannot draw what an expression does to its surface. Three cues are
added to the warped face patch, all procedural or taken from the same clip, no training:

* **Creases** (:func:`crease_lines`, :func:`shade_creases`): at the places where faces
  crease (nasolabial lines, the vertical furrows between the brows and the line across the
  nose root, the nose's sides (AU 9), forehead lines, crow's feet, the folds above the upper
  lid and under the lower lid, the sulcus under the lower lip), the deformation's
  compression across the line (from the mesh's per-triangle deformation gradients,
  :func:`compression_across`) darkens a thin line and lightens the bulge beside it; the
  amplitude follows the face's own brightness and texture contrast, and the bulge's
  highlight the light direction fitted to the face's shading. Where the edit *stretches*
  a crease the source shows (a grin neutralised), the source's dark line is lifted.
* **Mouth interior** (:class:`MouthBank`): where the edited inner-lip opening shows more
  than the frame's (a smile parting closed lips), the new part is filled from the clip's
  own most open mouth seen so far (aligned by the inner-lip corners and opening, colour
  matched to the frame), or a dark interior when no open mouth has been seen.
* **Eyes** (:func:`open_eyes`): a widened eye keeps its lids' own pixels at their distance
  from each lid and shows sclera (the colour of the same eye's white) in the gap; the iris
  is completed as a disc where the source's lid hid it.

Every cue has a switch (:class:`AppearanceConfig`) for ablation; all are on by default.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ned.errors import NedError
from ned.render.warp import polygon_mask, teeth_parts
from ned.topology import (
    LEFT_EYE,
    LEFT_IRIS,
    LIPS_INNER,
    N_LANDMARKS,
    RIGHT_EYE,
    RIGHT_IRIS,
    inter_ocular,
)

#: What each crease line is made of (the subject's right side; the left is mirrored).
_NASOLABIAL_R = (203, 206, 216, 212, 202)
_UNDER_EYE_R = (25, 110, 24, 23, 22, 26, 112)
_LID_FOLD_R = (56, 28, 27, 29, 30, 247)
_UPPER_LID_R = (173, 157, 158, 159, 160, 161)
_BROW_TOP = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
_FOREHEAD_TOP = (103, 67, 109, 10, 338, 297, 332)
#: The nose wrinkler's (AU 9) lines on the nose's side wall, from the bridge outwards.
_NOSE_SIDE_R = ((122, 188, 114), (196, 174, 217))
#: The mentolabial sulcus from the subject's right to the midline (mirrored beyond).
_UNDER_LIP_R = (182, 83, 18)


@dataclass(frozen=True)
class AppearanceConfig:
    """Which appearance cues the warp renderer adds, and how strongly.

    Attributes:
        creases: shade creases by the deformation's compression (and lift stretched ones).
        interior: fill a newly shown mouth interior from the clip's own open mouth.
        eyes: keep the lids and show sclera when an eye opens wider.
        strength: factor on the creases' shading (0 to 2).
    """

    creases: bool = True
    interior: bool = True
    eyes: bool = True
    strength: float = 1.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.strength) or not 0 <= self.strength <= 2:
            raise NedError(f"appearance strength {self.strength} is outside [0, 2]")

    @property
    def any(self) -> bool:
        return self.creases or self.interior or self.eyes


@dataclass(frozen=True)
class Crease:
    """One crease line in pixel coordinates of one geometry.

    Attributes:
        name: the crease kind (``nasolabial``, ``glabella``, ``nose_root``, ``forehead``,
            ``crows_feet``, ``under_eye``, ``lid_fold``, ``nose_side``, ``under_lip``).
        points: (K, 2) polyline, pixels.
        bulge: (K, 2) unit normals pointing to the side that bulges (gets the highlight).
        width: line width in pixels.
    """

    name: str
    points: np.ndarray
    bulge: np.ndarray
    width: float


#: Full compression (shading saturates) per crease kind, and its darkening at full
#: compression relative to the skin's brightness.
_FULL = {"nasolabial": 0.12, "under_eye": 0.12, "crows_feet": 0.12, "glabella": 0.10,
         "nose_root": 0.10, "forehead": 0.08, "lid_fold": 0.15, "nose_side": 0.06,
         "under_lip": 0.08}
_DARK = {"nasolabial": 0.22, "under_eye": 0.14, "crows_feet": 0.14, "glabella": 0.20,
         "nose_root": 0.12, "forehead": 0.13, "lid_fold": 0.18, "nose_side": 0.16,
         "under_lip": 0.16}


@functools.lru_cache(maxsize=64)
def _taper(n: int, phase: float = 0.0) -> np.ndarray:
    """(n,) profile along a line: 0 at both ends, 1 in the middle, gently uneven (a fixed
    function of the position along the line, so it stays put from frame to frame)."""
    t = np.linspace(0.0, 1.0, n)
    out = np.sin(np.pi * t) ** 0.8 * (0.85 + 0.15 * np.sin(2 * np.pi * (1.7 * t + phase)))
    out.flags.writeable = False  # cached: shared between calls
    return out


@functools.lru_cache(maxsize=1)
def _mirror() -> np.ndarray:
    from ned.facemodel.fields import mirror_index
    from ned.facemodel.mesh import load_canonical_mesh

    return mirror_index(load_canonical_mesh().vertices)


#: Line width per crease kind, as a factor on 0.04 inter-ocular distances.
_WIDTH = {"nasolabial": 1.0, "under_eye": 0.8, "lid_fold": 1.6, "crows_feet": 0.6,
          "glabella": 0.8, "nose_root": 0.8, "forehead": 1.0, "nose_side": 0.6,
          "under_lip": 0.9}
#: Crow's feet: the three lines' angles to the eye's corner axis (radians).
_CROWS_ANGLES = (-0.45, 0.0, 0.45)


@dataclass(frozen=True)
class _Layout:
    """The crease lines as fixed operations on the landmarks (built once, see
    :func:`_layout`). C creases, P points in all, V polyline vertices, A anchors (the
    points the bulges face), L polylines resampled to R points; arrays of coordinates are
    (2, n): x and y rows.

    Attributes:
        names: (C,) crease kinds, in :func:`crease_lines`' order.
        width: (C,) line width factors (on 0.04 IOD).
        starts: (C + 1,) offsets of each crease's points in the P points.
        gather_idx: (4 (V + A),) landmarks of the vertices and anchors, four terms each
            (term-major); gather_w: (4, V + A) their weights.
        n_vert: V.
        seg_keep: (V - 1,) whether consecutive vertices belong to one polyline.
        vert_poly: (V,) polyline of each vertex; first, last: (L,) its first, last vertex.
        vert_lin: (V,) even parameters of the vertices in their polyline (one of zero
            length).
        query: (R,) where the resampled points lie: 2 l + arc-length fraction.
        ia, ib: (P,) rows of ``ext`` (the R resampled points, the crow's feet's 30, the
            A anchors); wa, wb: (P,) weights: point = ``ext[ia] wa + ext[ib] wb``.
        towards: (P,) row of ``ext`` the bulge turns to.
        crows: (P,) bool, the crow's feet's points (their normals are not turned).
        prv, nxt, fac: (P,) finite differences within each crease (``np.gradient``).
        taper_dark, taper_lift: (P,) :func:`_taper` of each crease (phase ``0.37 j``, 0).
        full, dark: (P,) :data:`_FULL`, :data:`_DARK` of each point's kind.
        seg: (S,) first point of each segment within a crease (its second is ``seg + 1``).
        seg_crease: (S,) the crease of each segment.
        kinds: kind -> indices of its creases.
        kind_mean: (K, C) the mean over each kind's creases, as a matrix.
        width_median: the median of ``width``.
    """

    names: tuple[str, ...]
    width: np.ndarray
    starts: np.ndarray
    gather_idx: np.ndarray
    gather_w: np.ndarray
    n_vert: int
    seg_keep: np.ndarray
    vert_poly: np.ndarray
    first: np.ndarray
    last: np.ndarray
    vert_lin: np.ndarray
    query: np.ndarray
    ia: np.ndarray
    ib: np.ndarray
    wa: np.ndarray
    wb: np.ndarray
    towards: np.ndarray
    crows: np.ndarray
    prv: np.ndarray
    nxt: np.ndarray
    fac: np.ndarray
    taper_dark: np.ndarray
    taper_lift: np.ndarray
    full: np.ndarray
    dark: np.ndarray
    seg: np.ndarray
    seg_crease: np.ndarray
    kinds: dict
    kind_mean: np.ndarray
    width_median: float


@functools.lru_cache(maxsize=1)
def _layout() -> _Layout:
    """The crease layout of :func:`crease_lines` (built on first use, then shared)."""
    mir = _mirror()
    rows: list[list[tuple[int, float]]] = []  # gather rows: (landmark, weight) terms
    polys: list[tuple[int, int]] = []  # (vertices, points out)

    def poly(vertices: list[list[tuple[int, float]]], n: int) -> int:
        """A polyline through the vertices, resampled to n points; its index."""
        polys.append((len(vertices), n))
        rows.extend(vertices)
        return len(polys) - 1

    def single(ids: tuple[int, ...]) -> list[list[tuple[int, float]]]:
        return [[(i, 1.0)] for i in ids]

    sides = []
    for side in (0, 1):
        ids = (lambda t: tuple(int(mir[i]) for i in t)) if side else (lambda t: t)
        nl = poly(single(ids(_NASOLABIAL_R)), 9)
        ue = poly(single(ids(_UNDER_EYE_R)), 8)
        lf = poly([[(a, 0.5), (b, 0.5)] for a, b in zip(ids(_LID_FOLD_R), ids(_UPPER_LID_R))],
                  7)
        # AU 9's wrinkles on the nose's sides: two oblique lines from the bridge down
        # and out over the side wall, compressed when the wings rise
        ns = tuple(poly(single(ids(line)), 5) for line in _NOSE_SIDE_R)
        sides.append((nl, ue, lf, ns, ids((50, 118, 52, 236))))
    glab = []
    for t in (0.35, 0.65):
        # lo = p55 (1 - t) + p285 t, up = p107 (1 - t) + p336 t: from 0.7 lo + 0.3 up to
        # up + 0.2 (p151 - p9)
        glab.append(poly([[(55, 0.7 * (1 - t)), (285, 0.7 * t), (107, 0.3 * (1 - t)),
                           (336, 0.3 * t)],
                          [(107, 1 - t), (336, t), (151, 0.2), (9, -0.2)]], 5))
    nr = poly(single((193, 168, 417)), 6)
    # the mentolabial sulcus under the lower lip, deepened by a raised chin (AU 17)
    ul = poly(single(_UNDER_LIP_R
                     + tuple(int(mir[i]) for i in _UNDER_LIP_R[-2::-1])), 9)
    brow = poly(single(_BROW_TOP), 16)
    top = poly(single(_FOREHEAD_TOP), 16)
    n_vert = len(rows)
    anchor_terms = [[(i, 1.0)] for s in sides for i in s[4]]
    # glabella's middle, nose root's, the chin's
    anchor_terms += [[(55, 0.5), (285, 0.5)], [(9, 1.0)], [(199, 1.0)]]
    rows.extend(anchor_terms)
    gather_idx = np.zeros((4, len(rows)), np.intp)
    gather_w = np.zeros((4, len(rows)))
    for r, terms in enumerate(rows):
        for k, (i, wt) in enumerate(terms):
            gather_idx[k, r], gather_w[k, r] = i, wt
    # the resampling: vertices of consecutive polylines; the l-th's queries at 2 l + [0, 1]
    counts = [k for k, _ in polys]
    vert_poly = np.repeat(np.arange(len(polys)), counts)
    first = np.cumsum(counts) - counts
    vert_lin = np.concatenate([np.linspace(0.0, 1.0, k) for k in counts])
    query = np.concatenate([2.0 * j + np.linspace(0.0, 1.0, n) for j, (_, n) in
                            enumerate(polys)])
    out_start = np.concatenate([[0], np.cumsum([n for _, n in polys])])
    n_res = int(out_start[-1])
    n_crows = 2 * len(_CROWS_ANGLES) * 5
    anchor0 = n_res + n_crows  # ext's rows: resampled, crow's feet, anchors

    def res(j: int) -> np.ndarray:
        return np.arange(out_start[j], out_start[j + 1])

    names: list[str] = []
    parts: list[tuple[np.ndarray, ...]] = []  # per crease: ia, ib, wa, wb, towards, crows

    def add(name: str, ia: np.ndarray, towards: int | np.ndarray, ib: np.ndarray | None = None,
            f: float = 0.0, crows: bool = False) -> None:
        names.append(name)
        n = len(ia)
        parts.append((ia, np.zeros(n, np.intp) if ib is None else ib,
                      np.full(n, 1.0 if ib is None else 1.0 - f), np.full(n, f),
                      np.broadcast_to(towards, (n,)), np.full(n, crows)))

    for side, (nl, ue, lf, ns, _) in enumerate(sides):
        cheek, under, above, wall = anchor0 + 4 * side + np.arange(4)
        add("nasolabial", res(nl), cheek)
        add("under_eye", res(ue), under)
        add("lid_fold", res(lf), above)
        for a in range(len(_CROWS_ANGLES)):
            add("crows_feet", n_res + (side * len(_CROWS_ANGLES) + a) * 5 + np.arange(5), 0,
                crows=True)
        for j in ns:
            add("nose_side", res(j), wall)
    for j in glab:
        add("glabella", res(j), anchor0 + 8)
    add("nose_root", res(nr), anchor0 + 9)
    add("under_lip", res(ul), anchor0 + 10)
    for f in (0.3, 0.5, 0.7):
        b = res(brow)[2:-2]
        add("forehead", b, b, ib=res(top)[2:-2], f=f)
    lengths = np.array([len(p[0]) for p in parts])
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.intp)
    ia, ib, wa, wb, towards, crows = (np.concatenate([p[k] for p in parts]) for k in range(6))
    k = np.arange(starts[-1])
    crease_of = np.repeat(np.arange(len(parts)), lengths)
    lo, hi = starts[crease_of], starts[crease_of + 1] - 1
    ends = (k == lo) | (k == hi)
    seg = k[k != hi]
    kinds: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        kinds.setdefault(name, []).append(j)
    out = _Layout(
        names=tuple(names), width=np.array([_WIDTH[n] for n in names]), starts=starts,
        gather_idx=gather_idx.ravel(), gather_w=gather_w, n_vert=n_vert,
        seg_keep=vert_poly[1:] == vert_poly[:-1], vert_poly=vert_poly, first=first,
        last=first + np.array(counts) - 1, vert_lin=vert_lin, query=query, ia=ia, ib=ib,
        wa=wa, wb=wb, towards=towards.astype(np.intp), crows=crows,
        prv=np.maximum(k - 1, lo), nxt=np.minimum(k + 1, hi), fac=np.where(ends, 1.0, 0.5),
        taper_dark=np.concatenate([_taper(n, 0.37 * j) for j, n in enumerate(lengths)]),
        taper_lift=np.concatenate([_taper(n) for n in lengths]),
        full=np.repeat([_FULL[c] for c in names], lengths),
        dark=np.repeat([_DARK[c] for c in names], lengths),
        seg=seg, seg_crease=crease_of[seg], kinds={k: np.array(v) for k, v in kinds.items()},
        kind_mean=np.array([np.bincount(v, minlength=len(names)) / len(v)
                            for v in kinds.values()]),
        width_median=float(np.median([_WIDTH[n] for n in names])))
    for a in vars(out).values():
        if isinstance(a, np.ndarray):
            a.flags.writeable = False  # cached: shared between calls
    return out


def _crease_arrays(pt: np.ndarray, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """All crease points of :func:`crease_lines` at once.

    Args:
        pt: (2, 478) landmarks' x and y, pixels (float64).
        iod: their inter-ocular distance.

    Returns:
        (points, bulge): (2, P) each, the creases' points and unit bulge normals in
        :func:`_layout`'s order.
    """
    lay = _layout()
    g = (np.take(pt, lay.gather_idx, axis=1).reshape(2, 4, -1) * lay.gather_w).sum(1)
    vert = g[:, :lay.n_vert]
    # resample every polyline by its arc length (one np.interp for all: the l-th runs
    # over 2 l + its arc-length fraction)
    dv = np.diff(vert, axis=1)
    seg = np.sqrt(dv[0] * dv[0] + dv[1] * dv[1]) * lay.seg_keep
    s = np.concatenate([[0.0], np.cumsum(seg)])
    s0 = s[lay.first]
    total = s[lay.last] - s0
    ok = total > 0
    u = (s - s0[lay.vert_poly]) / np.where(ok, total, 1.0)[lay.vert_poly]
    if not ok.all():  # a polyline of zero length: its one point
        u = np.where(ok[lay.vert_poly], u, lay.vert_lin)
    u += 2.0 * lay.vert_poly
    # crow's feet: three short lines fanning out of each outer eye corner
    outer, inner = pt[:, _CROWS_OUTER], pt[:, _CROWS_INNER]  # (2, 2 sides)
    d = outer - inner
    d /= np.maximum(np.sqrt(d[0] * d[0] + d[1] * d[1]), 1e-9)
    v = np.stack([_COS[:, None] * d[0] - _SIN[:, None] * d[1],
                  _SIN[:, None] * d[0] + _COS[:, None] * d[1]])  # (2, angle, side)
    v = v.transpose(0, 2, 1)[..., None]  # (2, side, angle, 1)
    crows = outer[:, :, None, None] + v * 0.1 * iod + _CROWS_T * v * 0.16 * iod
    ext = np.concatenate([np.interp(lay.query, u, vert[0])[None],
                          np.interp(lay.query, u, vert[1])[None]])
    ext = np.concatenate([ext, crows.reshape(2, -1), g[:, lay.n_vert:]], 1)
    pts = np.take(ext, lay.ia, axis=1) * lay.wa + np.take(ext, lay.ib, axis=1) * lay.wb
    tan = (np.take(pts, lay.nxt, axis=1) - np.take(pts, lay.prv, axis=1)) * lay.fac
    tan /= np.maximum(np.sqrt(tan[0] * tan[0] + tan[1] * tan[1]), 1e-9)
    rel = np.take(ext, lay.towards, axis=1) - pts
    side = np.sign(tan[0] * rel[1] - tan[1] * rel[0])  # rel . (-tan_y, tan_x)
    side[(side == 0) | lay.crows] = 1
    return pts, np.stack([-tan[1] * side, tan[0] * side])


_CROWS_OUTER, _CROWS_INNER = [33, 263], [133, 362]
_COS, _SIN = np.cos(_CROWS_ANGLES), np.sin(_CROWS_ANGLES)
_CROWS_T = np.linspace(0, 1, 5)


def crease_lines(points: np.ndarray) -> list[Crease]:
    """The face's crease lines in the geometry ``points``.

    The lines are fixed constructions on the landmarks (polylines through landmarks,
    resampled by arc length; the crow's feet from the eye corners), computed for all
    creases at once.

    Args:
        points: (478, 2+) landmarks, pixels.

    Returns:
        Crease lines (both sides), placed from the landmarks: they move with the face.
    """
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[0] != N_LANDMARKS or p.shape[1] < 2:
        raise NedError(f"crease_lines needs ({N_LANDMARKS}, 2+) points, got {p.shape}")
    pt = np.ascontiguousarray(p[:, :2].T)
    iod = float(inter_ocular(p[:, :2]))
    pts, nrm = _crease_arrays(pt, iod)
    pts, nrm = np.ascontiguousarray(pts.T), np.ascontiguousarray(nrm.T)
    lay = _layout()
    w = 0.04 * iod
    st = lay.starts
    return [Crease(name, pts[st[j]:st[j + 1]], nrm[st[j]:st[j + 1]], float(lay.width[j] * w))
            for j, name in enumerate(lay.names)]


def _inverse_gradients(st: np.ndarray, dt: np.ndarray, tri_t: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per triangle ``F^-1`` (edited -> source) and the edited centroids.

    Args:
        st, dt: (2, N) source and edited vertices' x and y.
        tri_t: (3, F) triangles' corners.

    Returns:
        (inv_f, ok, cent): (4, F) row-major ``F^-1`` (zero where degenerate), (F,) bool
        non-degenerate in the edit, (2, F) edited centroids.
    """
    ts, td = np.take(st, tri_t, axis=1), np.take(dt, tri_t, axis=1)  # (2, 3, F)
    es = ts[:, 1:] - ts[:, :1]  # (xy, edge, F): Es's columns are the edges
    ed = td[:, 1:] - td[:, :1]
    det = ed[0, 0] * ed[1, 1] - ed[0, 1] * ed[1, 0]
    ok = np.abs(det) > 1e-6
    inv_det = np.divide(1.0, det, out=np.zeros_like(det), where=ok)
    # Ed^-1 = adj(Ed) / det, rows (e2y, -e2x), (-e1y, e1x); F^-1 = Es Ed^-1 maps an edited
    # vector to the source
    adj = ed[::-1, ::-1].transpose(1, 0, 2) * (_ADJ_SIGN * inv_det)
    inv_f = es[:, :1] * adj[0] + es[:, 1:] * adj[1]  # (2, 2, F)
    return inv_f.reshape(4, -1), ok, td.sum(1) / 3.0


_ADJ_SIGN = np.array([[[1.0], [-1.0]], [[-1.0], [1.0]]])
#: The 3 x 3 cells around a cell: x and y offsets.
_NB_X = np.array([-1, 0, 1] * 3)
_NB_Y = np.repeat([-1, 0, 1], 3)


def _near_pairs(pts: np.ndarray, cent: np.ndarray, ok: np.ndarray,
                radius: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Every (point, triangle) pair whose centroid lies within ``radius`` of the point,
    found on a grid of cells of side ``radius`` (only the 3 x 3 cells around a point's
    can hold one).

    Args:
        pts: (2, P) points' x and y.
        cent: (2, F) centroids.
        ok: (F,) which triangles count.
        radius: the search radius (> 0).

    Returns:
        (point, triangle): (N,) indices of the pairs, by point, or None where the grid
        does not pay (the caller compares every pair).
    """
    if not np.isfinite(pts).all():
        return None
    lo = pts.min(1) - 2 * radius
    n = np.floor((pts.max(1) + 2 * radius - lo) / radius).astype(np.intp) + 1
    nx, ncell = int(n[0]), int(n[0] * n[1])
    if ncell > 32000:
        return None
    # each triangle's cell; outside the grid (and degenerate): a border cell, which no
    # point searches (a point's cell is at least 1, mostly 2, from the border)
    c = np.floor((cent - lo[:, None]) / radius)
    np.clip(c, 0, (n - 1)[:, None], out=c)
    cid = (c[1] * nx + c[0]).astype(np.int16)
    cid[~ok] = 0
    order = np.argsort(cid, kind="stable")
    counts = np.bincount(cid, minlength=ncell)
    first = np.cumsum(counts) - counts
    pc = np.floor((pts - lo[:, None]) / radius).astype(np.intp)
    nid = ((pc[1] * nx + pc[0])[:, None] + (_NB_Y * nx + _NB_X)).ravel()  # (P * 9,)
    cnt = counts[nid]
    end = np.cumsum(cnt)
    pair_t = order[np.repeat(first[nid] - (end - cnt), cnt) + np.arange(end[-1])]
    pair_p = np.repeat(np.arange(pts.shape[1]), cnt.reshape(-1, 9).sum(1))
    dx = np.take(cent[0], pair_t) - np.take(pts[0], pair_p)
    dy = np.take(cent[1], pair_t) - np.take(pts[1], pair_p)
    keep = dx * dx + dy * dy < radius * radius
    return pair_p[keep], pair_t[keep]


def _compression(st: np.ndarray, dt: np.ndarray, pts: np.ndarray, nrm: np.ndarray,
                 tri_t: np.ndarray, iod: float) -> np.ndarray:
    """:func:`compression_across` in the transposed layout.

    Args:
        st, dt: (2, N) source and edited vertices' x and y.
        pts, nrm: (2, P) the points (edited geometry) and their unit normals.
        tri_t: (3, F) triangles' corners.
        iod: the edit's inter-ocular distance.

    Returns:
        (P,) compression.
    """
    n_pts = pts.shape[1]
    inv_f, ok, cent = _inverse_gradients(st, dt, tri_t)
    if n_pts == 0 or not ok.any():
        return np.zeros(n_pts)
    radius = 0.08 * iod
    pairs = _near_pairs(pts, cent, ok, radius) if radius > 1e-9 else None
    if pairs is None:  # every point against every triangle
        pp, pt = np.nonzero(_sq_dist(pts, cent, ok) < radius ** 2)
    else:
        pp, pt = pairs
    count = np.bincount(pp, minlength=n_pts)
    fbar = np.zeros((4, n_pts))
    full = count > 0
    if len(pp):
        fbar[:, full] = np.add.reduceat(np.take(inv_f, pt, axis=1),
                                        (np.cumsum(count) - count)[full], axis=1)
        fbar[:, full] /= count[full]
    lone = np.flatnonzero(~full)
    if len(lone):  # none within the radius: the nearest triangle
        valid = np.flatnonzero(ok)
        q, c = pts[:, lone], cent[:, valid]
        d2 = (c[0][None] - q[0][:, None]) ** 2 + (c[1][None] - q[1][:, None]) ** 2
        fbar[:, lone] = inv_f[:, valid[d2.argmin(1)]]
    sx = fbar[0] * nrm[0] + fbar[1] * nrm[1]
    sy = fbar[2] * nrm[0] + fbar[3] * nrm[1]
    src_len = np.sqrt(sx * sx + sy * sy)
    return np.where(src_len > 1e-6, 1.0 - 1.0 / np.maximum(src_len, 1e-6), 0.0)


def _sq_dist(pts: np.ndarray, cent: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(P, F) squared distances from the points (2, P) to the centroids (2, F); infinite
    to the triangles not ``ok``."""
    d2 = (cent[0][None] - pts[0][:, None]) ** 2 + (cent[1][None] - pts[1][:, None]) ** 2
    d2[:, ~ok] = np.inf
    return d2


def compression_across(src: np.ndarray, dst: np.ndarray, creases: list[Crease],
                       triangles: np.ndarray) -> list[np.ndarray]:
    """How much the skin is compressed across each crease line by the edit.

    For each crease point (in the edited geometry) the deformation gradients ``F`` of the
    mesh triangles within 0.08 inter-ocular distances (their centroids; the nearest one
    when none is) are averaged, and the compression across the line with normal ``n`` is
    ``1 - 1 / |F^-1 n|``: 0.2 means what spans 1 px across the line in the edit spanned
    1.25 px in the source. Negative: stretched. (The triangles near each point are found
    on a grid of cells of the radius' size, not by comparing every pair.)

    Args:
        src: (478, 2+) measured landmarks, pixels.
        dst: (478, 2+) edited landmarks, pixels.
        creases: the crease lines in the edited geometry (:func:`crease_lines` of ``dst``).
        triangles: (F, 3) mesh triangles.

    Returns:
        Per crease a (K,) float array of compression at its points.
    """
    s, d = np.asarray(src, np.float64)[:, :2], np.asarray(dst, np.float64)[:, :2]
    if not creases:
        return []
    pts = np.concatenate([c.points for c in creases]).astype(np.float64)
    nrm = np.concatenate([c.bulge for c in creases]).astype(np.float64)
    comp = _compression(np.ascontiguousarray(s.T), np.ascontiguousarray(d.T),
                        np.ascontiguousarray(pts.T), np.ascontiguousarray(nrm.T),
                        np.ascontiguousarray(np.asarray(triangles).T),
                        float(inter_ocular(d)))
    return np.split(comp, np.cumsum([len(c.points) for c in creases])[:-1])


def light_direction(lum: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(2,) unit direction (image x, y) the light comes from, from a plane fitted to the
    face's smoothed brightness (zero when the face is evenly lit).

    Args:
        lum: (h, w) float32 brightness.
        mask: (h, w) float32 face mask in [0, 1].
    """
    idx = np.flatnonzero(mask > 0.5)
    if len(idx) < 16:
        return np.zeros(2)
    step = max(1, len(idx) // 4000)
    if step > 1:
        idx = idx[::step]
    ys, xs = np.divmod(idx, mask.shape[1])
    # least squares plane a x + b y + c over centred x, y: (a, b) from the 2 x 2 normal
    # equations (the constant is orthogonal to centred coordinates)
    x, y = xs - xs.mean(), ys - ys.mean()
    z = np.take(lum, idx).astype(np.float64)
    sxx, sxy, syy, bx, by = x @ x, x @ y, y @ y, x @ z, y @ z
    det = sxx * syy - sxy * sxy
    if det > 1e-9 * sxx * syy:
        g = np.array([syy * bx - sxy * by, sxx * by - sxy * bx]) / det
    else:  # the points on a line: the least-norm solution
        g = np.linalg.lstsq(np.array([[sxx, sxy], [sxy, syy]]), np.array([bx, by]),
                            rcond=None)[0]
    n = float(np.hypot(g[0], g[1]))
    return g / n if n > 1e-9 else np.zeros(2)


def _draw_segments(canvas: np.ndarray, ends: np.ndarray, values: np.ndarray,
                   thickness: np.ndarray) -> None:
    """Anti-aliased segments on a float32 canvas, in order.

    Args:
        canvas: (h, w) float32, drawn in place.
        ends: (S, 4) int32 x1, y1, x2, y2 in 1/16 pixels.
        values: (S,) each segment's value.
        thickness: (S,) int line widths.
    """
    for (x1, y1, x2, y2), v, t in zip(ends.tolist(), values.tolist(), thickness.tolist()):
        cv2.line(canvas, (x1, y1), (x2, y2), v, t, cv2.LINE_AA, 4)


def _blur_reach(sigma: float) -> int:
    """Pixels a float32 cv2.GaussianBlur of ``sigma`` reaches (its kernel's radius)."""
    return int(np.floor(sigma * 8 + 1 + 0.5)) // 2 + 1


def _check_inputs(patch: np.ndarray, src: np.ndarray, dst: np.ndarray,
                  roi: tuple[int, int, int, int], name: str) -> None:
    """One clear error for inputs of the wrong shape (the cues' shared contract)."""
    if not (isinstance(patch, np.ndarray) and patch.ndim == 3 and patch.shape[2] == 3
            and patch.dtype == np.uint8):
        raise NedError(f"{name} needs an (h, w, 3) uint8 patch, got "
                       f"{getattr(patch, 'shape', None)} {getattr(patch, 'dtype', None)}")
    for label, pts in (("src", src), ("dst", dst)):
        a = np.asarray(pts)
        if a.ndim != 2 or a.shape[0] != N_LANDMARKS or a.shape[1] < 2:
            raise NedError(f"{name}: {label} must be ({N_LANDMARKS}, 2+) landmarks, got "
                           f"{a.shape}")
    if len(roi) != 4 or roi[2] - roi[0] != patch.shape[1] or roi[3] - roi[1] != patch.shape[0]:
        raise NedError(f"{name}: roi {tuple(roi)} does not match the patch {patch.shape[:2]}")


def shade_creases(patch: np.ndarray, src: np.ndarray, dst: np.ndarray,
                  roi: tuple[int, int, int, int], mask: np.ndarray, triangles: np.ndarray,
                  strength: float = 1.0) -> tuple[np.ndarray, dict[str, float]]:
    """Darken compressed crease lines, lighten their bulge, lift stretched ones.

    Args:
        patch: (h, w, 3) uint8 warped face box of ``roi``.
        src: (478, 3) measured landmarks, frame pixels.
        dst: (478, 3) edited landmarks, frame pixels.
        roi: (x0, y0, x1, y1) of the patch in the frame.
        mask: (h, w) float32 face mask of the patch (shading only inside it).
        triangles: (F, 3) mesh triangles.
        strength: factor on the shading.

    Returns:
        (patch, compression): the shaded (h, w, 3) uint8 patch (``patch`` itself when no
        crease is compressed or stretched) and the mean positive compression per crease
        kind.
    """
    _check_inputs(patch, src, dst, roi, "shade_creases")
    if mask.shape != patch.shape[:2]:
        raise NedError(f"shade_creases: mask {mask.shape} does not match the patch "
                       f"{patch.shape[:2]}")
    h, w = patch.shape[:2]
    off = np.array([[roi[0]], [roi[1]]], np.float64)
    dt = np.asarray(dst, np.float64)[:, :2].T - off  # (2, 478)
    iod = float(inter_ocular(dt.T))
    lay = _layout()
    pts, bulge = _crease_arrays(dt, iod)
    comp = _compression(np.asarray(src, np.float64)[:, :2].T - off, dt, pts, bulge,
                        np.ascontiguousarray(np.asarray(triangles).T), iod)
    st = lay.starts[:-1]
    per_crease = np.add.reduceat(np.clip(comp, 0, None), st) / np.diff(lay.starts)
    stats = dict(zip(lay.kinds, (lay.kind_mean @ per_crease).tolist()))
    if strength <= 0 or not (np.abs(comp) > 0.01).any():
        return patch, stats
    # everything happens in the box around the crease lines (with the blurs' reach)
    widths = lay.width * (0.04 * iod)  # (C,)
    sig = max(0.6, 0.5 * lay.width_median * (0.04 * iod))
    reach = 12 * sig + 4 * float(widths.max()) + 2
    bx0, by0 = np.maximum(np.floor(pts.min(1) - reach).astype(int), 0)
    bx1, by1 = np.minimum(np.ceil(pts.max(1) + reach).astype(int) + 1, (w, h))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return patch, stats
    out = patch.copy()
    # what is drawn: the dark line and its bulge's highlight of each compressed crease,
    # the lift of each stretched one (segments valued by the mean of their two ends)
    k = np.clip(comp / lay.full, 0, 1) * lay.taper_dark
    drawn = np.maximum.reduceat(k, st) > 1e-3  # (C,)
    lifted = np.minimum.reduceat(comp, st) < -1e-3
    if not (drawn.any() or lifted.any()):
        return out, stats
    off_b = np.array([[bx0], [by0]], np.float64)
    box_mask = mask[by0:by1, bx0:bx1]
    box = patch[by0:by1, bx0:bx1]
    lum = cv2.cvtColor(box, cv2.COLOR_RGB2GRAY).astype(np.float32)
    seg, seg_c = lay.seg, lay.seg_crease
    layers = []  # (values (S,), offset (2, P), thickness (C,), segments kept, sigma)
    small_size = (max(1, lum.shape[1] // 4), max(1, lum.shape[0] // 4))
    if drawn.any():
        # the brightness and the mask reduced together (one call, the same as two)
        small = cv2.resize(cv2.merge([lum, box_mask.astype(np.float32)]), small_size,
                           interpolation=cv2.INTER_AREA)
        small_lum, small_mask = cv2.split(small.reshape(small_size[1], small_size[0], 2))
        light = light_direction(small_lum, small_mask)
        # texture contrast of the face: creases are fainter on a soft, flat-lit face
        hp = lum - cv2.GaussianBlur(lum, (0, 0), 2)
        inside = box_mask > 0.5
        contrast = (float(cv2.meanStdDev(hp, mask=inside.view(np.uint8))[1][0, 0])
                    if inside.any() else 0.0)
        scale = strength * float(np.clip(contrast / 4.0, 0.6, 1.4))
        amp = lay.dark * scale
        facing = light @ bulge if light.any() else np.zeros(pts.shape[1])
        dark = amp * k * (1.0 - 0.25 * facing)
        lit = 0.45 * amp * k * (1.0 + 0.5 * facing)
        wp = np.repeat(widths, np.diff(lay.starts))
        for values, shift, thick, sigma in (
                (dark, 0.0, np.maximum(1, np.round(0.7 * widths)), sig),
                (lit, bulge * 1.6 * wp, np.maximum(1, np.round(1.5 * widths)), 1.5 * sig)):
            v = 0.5 * (values[seg] + values[seg + 1])
            layers.append((v, shift, thick, drawn[seg_c] & (v > 1e-3), sigma))
    if lifted.any():
        values = np.clip(-comp / lay.full, 0, 1) * lay.taper_lift
        v = 0.5 * (values[seg] + values[seg + 1])
        layers.append((v, 0.0, np.maximum(1, np.round(2 * widths)), lifted[seg_c] & (v > 1e-3),
                       2 * sig))
    # each layer is drawn and blurred in its own rectangle of the box (its segments with
    # their width and the blur's reach: the layer is exactly 0 outside it); the gain is
    # exactly 1 outside their union
    bw, bh = bx1 - bx0, by1 - by0
    local = pts - off_b
    q0 = np.round(local * 16).astype(np.int32)  # the lines in 1/16 pixels
    drawn_layers = []  # (layer index, canvas, (x0, y0, x1, y1) in the box)
    for i, (v, shift, thick, keep, sigma) in enumerate(layers):
        a = seg[keep]
        if not len(a):
            continue
        q = q0 if np.isscalar(shift) else np.round((local + shift) * 16).astype(np.int32)
        ends = np.concatenate([np.take(q, a, axis=1), np.take(q, a + 1, axis=1)])  # (4, S)
        pad = float(thick.max()) + 2 + _blur_reach(sigma)
        xy = ends.reshape(2, 2, -1)
        x0, y0 = np.maximum(np.floor(xy.min((0, 2)) / 16.0 - pad).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(xy.max((0, 2)) / 16.0 + pad).astype(int) + 1, (bw, bh))
        if x1 <= x0 or y1 <= y0:
            continue
        canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
        _draw_segments(canvas, ends.T - np.array([x0, y0, x0, y0], np.int32) * 16, v[keep],
                       thick[seg_c[keep]].astype(int))
        drawn_layers.append((i, cv2.GaussianBlur(canvas, (0, 0), sigma), (x0, y0, x1, y1)))
    if not drawn_layers:
        return out, stats
    rects = np.array([r for _, _, r in drawn_layers])
    rx0, ry0 = rects[:, :2].min(0)
    rx1, ry1 = rects[:, 2:].max(0)
    gain = np.ones((ry1 - ry0, rx1 - rx0), np.float32)
    n_dark = 2 if drawn.any() else 0  # layers 0 and 1: the dark line, the bulge's highlight
    for i, canvas, (x0, y0, x1, y1) in drawn_layers:
        at = gain[y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0]
        if i < n_dark:
            at += -canvas if i == 0 else canvas
        else:
            # a source crease under a stretched line: lift its darkness (the difference to
            # its surroundings at the crease's scale), keep the finer texture
            rf = _blur_reach(1.5 * sig)
            fx0, fy0 = max(x0 - rf, 0), max(y0 - rf, 0)
            fine = cv2.GaussianBlur(lum[fy0:y1 + rf, fx0:x1 + rf], (0, 0), 1.5 * sig)
            fine = fine[y0 - fy0:y1 - fy0, x0 - fx0:x1 - fx0]
            if not drawn.any():
                small_lum = cv2.resize(lum, small_size, interpolation=cv2.INTER_AREA)
            broad = cv2.resize(cv2.GaussianBlur(small_lum, (0, 0), max(0.5, 1.5 * sig)),
                               (bw, bh), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
            deficit = np.clip(broad - fine, 0, None) / np.maximum(fine, 1.0)
            at *= 1.0 + 0.8 * canvas * deficit
    gain = (1.0 + (gain - 1.0) * box_mask[ry0:ry1, rx0:rx1]).astype(np.float32, copy=False)
    # rounded to the nearest level: where the gain is within 1/512 of 1 the pixels keep
    # their values
    region = (slice(by0 + ry0, by0 + ry1), slice(bx0 + rx0, bx0 + rx1))
    out[region] = cv2.multiply(patch[region], cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)
    return out, stats


#: Openings (inner-lip gap over the inter-ocular distance) from which a mouth interior is
#: kept as an exemplar.
MIN_EXEMPLAR_GAP = 0.08


class MouthBank:
    """The clip's own mouth interior, to fill what an edit newly opens.

    :meth:`observe` keeps the most open mouth seen so far on the track (a crop around the
    inner lips, those lips' outline and the lips' mean colour); :meth:`fill` paints the part
    of the edited inner-lip opening that the frame's own opening does not cover with that
    exemplar, mapped by the affine transform that best takes its inner-lip outline to the
    edited one and colour-matched by the lips' colour of the two frames. Before any open
    mouth is seen the new part is a dark interior in the frame's own lip colour.
    """

    def __init__(self) -> None:
        self.crop: np.ndarray | None = None
        self.lips: np.ndarray | None = None
        self.lip_colour: np.ndarray | None = None
        self.gap = MIN_EXEMPLAR_GAP

    def reset(self) -> None:
        self.__init__()

    @staticmethod
    def _lip_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
        from ned.topology import LIPS_OUTER

        outer, inner = points[list(LIPS_OUTER), :2], points[list(LIPS_INNER), :2]
        lo = np.floor(outer.min(0)).astype(int)
        hi = np.ceil(outer.max(0)).astype(int) + 1
        lo, hi = np.maximum(lo, 0), np.minimum(hi, image.shape[1::-1])
        if np.any(hi - lo < 2):
            return None
        shape = (hi[1] - lo[1], hi[0] - lo[0])
        ring = polygon_mask(outer - lo, shape) & ~polygon_mask(inner - lo, shape)
        if ring.sum() < 4:
            return None
        return image[lo[1]:hi[1], lo[0]:hi[0]][ring].astype(np.float32).mean(0)

    def observe(self, image: np.ndarray, src: np.ndarray) -> None:
        """Keep this frame's mouth interior if it is the most open one so far.

        Args:
            image: (H, W, 3) uint8 source frame.
            src: (478, 2+) its measured landmarks, pixels.
        """
        from ned.topology import inner_lip_gap

        gap = float(inner_lip_gap(np.asarray(src)[None])[0])
        if gap <= self.gap:
            return
        inner = np.asarray(src, np.float64)[list(LIPS_INNER), :2]
        pad = 0.25 * float(np.ptp(inner[:, 0]))
        lo = np.maximum(np.floor(inner.min(0) - pad).astype(int), 0)
        hi = np.minimum(np.ceil(inner.max(0) + pad).astype(int) + 1, image.shape[1::-1])
        colour = self._lip_colour(image, src)
        if np.any(hi - lo < 4) or colour is None:
            return
        self.crop = image[lo[1]:hi[1], lo[0]:hi[0]].copy()
        self.lips, self.lip_colour, self.gap = inner - lo, colour, gap

    def fill(self, patch: np.ndarray, image: np.ndarray, src: np.ndarray, dst: np.ndarray,
             roi: tuple[int, int, int, int]) -> int:
        """Paint the newly opened part of the edited mouth, in place.

        Args:
            patch: (h, w, 3) uint8 warped box ``roi`` of the frame.
            image: (H, W, 3) uint8 source frame.
            src: (478, 2+) measured landmarks, frame pixels.
            dst: (478, 2+) edited landmarks, frame pixels.
            roi: (x0, y0, x1, y1) of the patch.

        Returns:
            Pixels painted.
        """
        _check_inputs(patch, src, dst, roi, "MouthBank.fill")
        h, w = patch.shape[:2]
        lips_d = np.asarray(dst, np.float64)[list(LIPS_INNER), :2] - roi[:2]
        # all the work happens in the edited opening's box (with the blur's reach): the
        # same pixels as over the whole patch, the rest is never touched
        bx0, by0 = np.maximum(np.floor(lips_d.min(0)).astype(int) - _FILL_MARGIN, 0)
        bx1, by1 = np.minimum(np.ceil(lips_d.max(0)).astype(int) + _FILL_MARGIN + 1, (w, h))
        if bx1 - bx0 < 2 or by1 - by0 < 2:
            return 0
        bw, bh = int(bx1 - bx0), int(by1 - by0)
        lips_d = lips_d - (bx0, by0)
        edited = polygon_mask(lips_d, (bh, bw))
        off = (roi[0] + bx0, roi[1] + by0)
        # between the teeth a dropped jaw parted: the mouth's cavity, not an exemplar's
        # teeth, anti-aliased along the teeth's edges (the frame's own teeth reach under
        # them: ``ned.render.warp.still_teeth``)
        upper, lower, cov, _ = teeth_parts(src, dst, off, (bh, bw), coverage=True)
        gap = None
        if cov is not None:
            cov *= edited
            gap = cov > 0
            upper &= ~gap
            lower &= ~gap
        new = edited & ~upper & ~lower
        if new.sum() < 4:
            return 0
        colour = self._lip_colour(image, src)
        if colour is None:
            return 0
        rest = new if gap is None else new & ~gap  # what an exemplar (or shadow) fills
        soft = cv2.GaussianBlur(rest.astype(np.float32), (0, 0), 0.8)
        soft = np.maximum(soft, rest * 0.85)[..., None]
        if gap is not None:   # the gap's own edges: its coverage, not a blur
            soft = np.where(gap[..., None], cov[..., None], soft)
        if self.crop is not None:
            a, _ = cv2.estimateAffine2D(self.lips.astype(np.float32),
                                        (lips_d + (bx0, by0)).astype(np.float32),
                                        method=cv2.LMEDS)
            if a is None:
                return 0
            a[:, 2] -= (bx0, by0)
            fill = cv2.warpAffine(self.crop, a, (bw, bh), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            fill *= (colour / np.maximum(self.lip_colour, 1.0))[None, None]
            if gap is not None and gap.any():
                fill[gap] = _dark_interior(edited, colour)[gap]
        else:
            # no open mouth seen yet: a shadowed interior
            fill = _dark_interior(edited, colour)
        box = patch[by0:by1, bx0:bx1]
        out = box.astype(np.float32) * (1 - soft) + fill * soft
        box[:] = np.clip(out, 0, 255).astype(np.uint8)
        return int(new.sum())


def _dark_interior(opening: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32: a shadowed mouth interior in the lips' own ``colour`` (3,),
    darkest in the middle of the ``opening`` (h, w) bool."""
    dist = cv2.distanceTransform(opening.astype(np.uint8), cv2.DIST_L2, 3)
    depth = np.clip(dist / max(float(dist.max()), 1.0), 0, 1)[..., None]
    return (colour[None, None] * (0.35 - 0.2 * depth)).astype(np.float32)


#: Pixels around the edited opening's box that :meth:`MouthBank.fill` works in: beyond
#: its soft edge's blur (sigma 0.8: a 7-pixel kernel on float images).
_FILL_MARGIN = 5

_UPPER_LID = {"right": (33, 246, 161, 160, 159, 158, 157, 173, 133),
              "left": (263, 466, 388, 387, 386, 385, 384, 398, 362)}
_LOWER_LID = {"right": (33, 7, 163, 144, 145, 153, 154, 155, 133),
              "left": (263, 249, 390, 373, 374, 380, 381, 382, 362)}


def _lid_curve(points: np.ndarray, ids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A lid polyline as (u, y), sorted by u: its points' parameters in [0, 1] along the
    eye's corner axis and their heights above the corner line."""
    p = points[list(ids), :2]
    axis = p[-1] - p[0]
    u = ((p - p[0]) @ axis) / max(float(axis @ axis), 1e-9)
    order = np.argsort(u)
    y = p[:, 1] - (p[0, 1] + u * axis[1])  # height above the corner line
    return u[order], y[order]


_Lids = tuple[tuple[np.ndarray, np.ndarray], ...]


def _eye_lids(s: np.ndarray, d: np.ndarray, up: tuple[int, ...], lo: tuple[int, ...]
              ) -> _Lids:
    """An eye's four lid curves (:func:`_lid_curve`), built once: the source's upper and
    lower lid, the edit's upper and lower lid. s, d: (478, 2) source and edited
    landmarks; up, lo: the lids' landmark ids."""
    return _lid_curve(s, up), _lid_curve(s, lo), _lid_curve(d, up), _lid_curve(d, lo)


def _openings(lids: _Lids, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The source's and the edit's opening (lower lid minus upper lid, pixels) at the
    parameters ``t`` (any shape, in [0, 1] along the corner axis)."""
    su, sl, du, dl = lids
    return np.interp(t, *sl) - np.interp(t, *su), np.interp(t, *dl) - np.interp(t, *du)


def _growth(lids: _Lids, iod: float, t: np.ndarray) -> np.ndarray:
    """How much an eye's opening grows at the parameters ``t`` (any shape, in [0, 1]
    along the corner axis): the opening's gain over a third of the source's, in [0, 1]."""
    hs, hd = _openings(lids, t)
    return np.clip((hd - hs) / np.maximum(0.35 * np.abs(hs), 0.02 * iod), 0, 1)


#: An eye whose opening grows by less than this anywhere (pixels) is left to the warp:
#: there is no sclera to show (angry edits of the 640x360 benchmark clip widened their
#: eyes by 0.5 px at most on a median frame, from the brows' and lids' fields, and had
#: about 8 pixels painted for 3 ms a frame).
MIN_WIDENING_PX = 1.0
#: The parameters along an eye where :func:`widen_eyes` checks its growth.
_SAMPLES = np.linspace(0.0, 1.0, 65)
_SAMPLES.flags.writeable = False


def _widening_along(lids: _Lids) -> np.ndarray:
    """(65,) pixels the eye's opening grows by along the eye (edited minus source)."""
    hs, hd = _openings(lids, _SAMPLES)
    return hd - hs


def _growth_along(lids: _Lids, iod: float) -> np.ndarray:
    """(65,) :func:`_growth` along the whole eye (the pixels' growth takes only these
    values, up to the sampling)."""
    return _growth(lids, iod, _SAMPLES)


def widen_eyes(patch: np.ndarray, image: np.ndarray, src: np.ndarray, dst: np.ndarray,
               roi: tuple[int, int, int, int]) -> int:
    """Where an edit opens an eye wider, show sclera and a whole iris instead of the
    stretched lid, in place.

    Inside the edited opening, away from the two lid margins (kept as warped, so the lash
    line keeps its thickness) and outside the iris disc, the warped pixels are blended
    towards the colour of the same eye's white (shaded under the upper lid) by how much
    the opening grew there; the part of the iris disc that the source's lids hid is
    painted in the iris's own colour, darker at its rim.

    Args:
        patch: (h, w, 3) uint8 warped box ``roi``.
        image: (H, W, 3) uint8 source frame.
        src: (478, 2+) measured landmarks, frame pixels.
        dst: (478, 2+) edited landmarks, frame pixels.
        roi: (x0, y0, x1, y1).

    Returns:
        Pixels changed.
    """
    _check_inputs(patch, src, dst, roi, "widen_eyes")
    s, d = np.asarray(src, np.float64)[:, :2], np.asarray(dst, np.float64)[:, :2]
    iod = float(inter_ocular(s))
    x0, y0 = roi[0], roi[1]
    h, w = patch.shape[:2]
    changed = 0
    for side, eye, iris in (("right", RIGHT_EYE, RIGHT_IRIS), ("left", LEFT_EYE, LEFT_IRIS)):
        up, lo = _UPPER_LID[side], _LOWER_LID[side]
        ed, es = d[list(eye)], s[list(eye)]
        lids = _eye_lids(s, d, up, lo)
        if (_growth_along(lids, iod).max() <= 0.05
                or _widening_along(lids).max() < MIN_WIDENING_PX):
            continue  # the opening grows nowhere, or by less than a pixel (the growth
            # depends on the position along the eye alone)
        bx0, by0 = np.maximum(np.floor(ed.min(0) - (x0, y0)).astype(int) - 1, 0)
        bx1, by1 = np.minimum(np.ceil(ed.max(0) - (x0, y0)).astype(int) + 2, (w, h))
        if bx1 - bx0 < 3 or by1 - by0 < 3:
            continue
        yy, xx = np.mgrid[by0:by1, bx0:bx1].astype(np.float64)
        fx, fy = xx + x0, yy + y0
        c0, c1 = d[up[0]], d[up[-1]]
        axis = c1 - c0
        t = ((fx - c0[0]) * axis[0] + (fy - c0[1]) * axis[1]) / max(float(axis @ axis), 1e-9)
        base = c0[1] + t * axis[1]
        tc = np.clip(t, 0, 1)
        ud, ld = base + np.interp(tc, *lids[2]), base + np.interp(tc, *lids[3])
        grow = _growth(lids, iod, tc)
        inside = polygon_mask(ed - (x0 + bx0, y0 + by0), grow.shape)
        if not (inside & (grow > 0.05)).any():
            continue
        # the iris: disc moved with the eye (as the warp's rigid iris)
        shift = (ed - es).mean(0)
        centre = s[iris[0]]
        radius = float(np.linalg.norm(s[list(iris[1:])] - centre, axis=1).mean())
        r_d = np.hypot(fx - centre[0] - shift[0], fy - centre[1] - shift[1])
        disc = r_d <= radius
        # colours from the source's own eye
        sb0, sb1 = np.floor(es.min(0)).astype(int), np.ceil(es.max(0)).astype(int) + 1
        sb0, sb1 = np.maximum(sb0, 0), np.minimum(sb1, image.shape[1::-1])
        if np.any(sb1 - sb0 < 3):
            continue
        crop = image[sb0[1]:sb1[1], sb0[0]:sb1[0]].astype(np.float32)
        sy, sx = np.mgrid[sb0[1]:sb1[1], sb0[0]:sb1[0]]
        s_open = polygon_mask(es - sb0, crop.shape[:2])
        s_iris = np.hypot(sx - centre[0], sy - centre[1]) <= radius
        white = crop[s_open & ~s_iris]
        irisc = crop[s_open & s_iris]
        if len(white) < 3 or len(irisc) < 3:
            continue
        lum = white.mean(1)
        sclera = white[lum >= np.quantile(lum, 0.75)].mean(0)
        iris_col = np.median(irisc, axis=0)
        margin_u, margin_l = 0.045 * iod, 0.025 * iod
        a, b = fy - ud, ld - fy
        region = inside & ~disc & (a > margin_u) & (b > margin_l)
        shade = 1.0 - 0.22 * np.exp(-(a - margin_u) / max(0.05 * iod, 0.5))
        # the hidden part of the iris: its translated source lies outside the source opening
        src_open = polygon_mask(es - (x0 + bx0 - shift[0], y0 + by0 - shift[1]), grow.shape)
        hidden = inside & disc & ~src_open & (a > 0.5 * margin_u) & (b > 0.5 * margin_l)
        if radius > 4:  # no specks: a hidden part is a crescent, not a dot
            hidden = cv2.morphologyEx(hidden.astype(np.uint8), cv2.MORPH_OPEN,
                                      np.ones((3, 3), np.uint8)) > 0
        box = patch[by0:by1, bx0:bx1].astype(np.float32)
        alpha = np.where(region, grow, 0.0)
        alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 0.6) * inside
        paint = sclera[None, None] * shade[..., None]
        rim = np.clip((r_d / max(radius, 1e-6) - 0.75) / 0.25, 0, 1)
        iris_paint = iris_col[None, None] * (1.0 - 0.35 * rim)[..., None]
        paint = np.where(hidden[..., None], iris_paint, paint)
        alpha = np.where(hidden, 1.0, alpha)[..., None]
        box = box * (1 - alpha) + paint * alpha
        patch[by0:by1, bx0:bx1] = np.clip(box, 0, 255).astype(np.uint8)
        changed += int((alpha[..., 0] > 0.05).sum())
    return changed
