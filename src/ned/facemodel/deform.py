"""Fold-free large deformation of the 468-point face mesh in image space.

An edit moves landmarks by large amounts (a brow lowered by a quarter of the inter-ocular
distance). Moved point by point, the thin strip of skin between a lowered brow and the lid
can fold over, and a warp through a folded mesh tears the picture. :func:`fold_free`
returns geometry with no folded triangle that reaches as much of the edit as it can:

1. Frames whose edit does not fold are returned as they are.
2. Otherwise a 2D as-rigid-as-possible (ARAP) deformation with the edited points as soft
   handles replaces the edit near the folds (:class:`ArapSolver`): the skin there
   compresses smoothly instead of folding. Its system matrix depends only on a per-clip
   reference geometry, so it is factorised once per clip.
3. :func:`local_unfold` then shrinks the edit only around triangles that still flip,
   never the whole frame. Scale 0 is the measured mesh, which has no fold, so it ends.

Measured (docs/expressions.md): where halving the whole edit kept 0.44-0.62 of it, this
keeps 0.89-0.98, in 0.5 ms (no fold) to 3.4 ms (folds) per frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ned import topology as tp
from ned.errors import NedError

if TYPE_CHECKING:  # scipy.sparse is imported where it is used (0.2 s at start-up)
    import scipy.sparse as sp

N_MESH = tp.N_MESH


@functools.lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(898, 3) int64 triangles of the canonical mesh (read-only)."""
    from ned.facemodel.mesh import load_canonical_mesh

    tris = np.array(load_canonical_mesh().triangles, np.int64)
    tris.flags.writeable = False
    return tris


def signed_areas(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(F,) twice the signed area of each triangle.

    Args:
        points: (V, 2+) points (only x, y are used).
        tris: (F, 3) vertex indices.
    """
    x, y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    i, j, k = tris.T
    ax, ay = x.take(i), y.take(i)
    return (x.take(j) - ax) * (y.take(k) - ay) - (y.take(j) - ay) * (x.take(k) - ax)


def front_triangles(reference: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(F,) bool: triangles that cover pixels in ``reference`` (V, 2+): all but slivers of
    at most a tenth of the median area, which flip on rounding alone."""
    ref = np.abs(signed_areas(reference, tris))
    return ref > max(1e-6, 0.1 * float(np.median(ref)))


def flipped(points: np.ndarray, reference: np.ndarray, tris: np.ndarray,
            front: np.ndarray | None = None) -> np.ndarray:
    """(F,) bool: front triangles of ``reference`` whose orientation differs in ``points``
    (both (V, 2+))."""
    return _Orientation(reference, tris, front).flipped(points)


class _Orientation:
    """The reference's triangle orientations, to test many geometries against."""

    def __init__(self, reference: np.ndarray, tris: np.ndarray,
                 front: np.ndarray | None = None) -> None:
        area = signed_areas(reference, tris)
        self.tris, self.sign = tris, np.sign(area)
        a = np.abs(area)
        self.front = a > max(1e-6, 0.1 * float(np.median(a))) if front is None else front

    def flipped(self, points: np.ndarray) -> np.ndarray:
        """(F,) bool front triangles whose orientation differs in ``points``."""
        return self.front & (self.sign != np.sign(signed_areas(points, self.tris)))


@functools.lru_cache(maxsize=2)
def vertex_adjacency(skin: bool = False) -> sp.csr_matrix:
    """(468, 468) row-normalised adjacency of the canonical mesh (mean over edge
    neighbours); ``skin``: without the eye and mouth openings' triangles (upper and lower
    lips and lids are then not neighbours)."""
    import scipy.sparse as sp

    from ned.facemodel.mesh import aperture_triangles

    tris, n = mesh_triangles(), N_MESH
    if skin:
        ap = aperture_triangles(tris)
        tris = tris[~(ap["mouth"] | ap["eyes"])]
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    deg = np.asarray(a.sum(1)).ravel()
    return (sp.diags(1.0 / np.maximum(deg, 1)) @ a).tocsr()


def local_unfold(src: np.ndarray, dst: np.ndarray, shrink: float = 0.6,
                 max_steps: int = 40, orientation: _Orientation | None = None,
                 base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shrink an edit only where the mesh folds.

    Args:
        src: (478, 2+) measured geometry.
        dst: (478, 2+) edited geometry.
        shrink: factor on the edit of the vertices of flipped triangles per step.
        max_steps: steps before the remaining folds' vertices fall back to the measured
            geometry.
        orientation: ``src``'s triangle orientations, if already computed.
        base: (478, 2+) a part of the edit to keep (the other emotions' expressions
            removed): the edit is shrunk towards it (itself unfolded first) instead of
            towards ``src``; None = ``src``.

    Returns:
        (points, scale): (478, D) fold-free geometry (``dst``'s columns past 2 and its iris
        points kept) and the (468,) per-vertex scale of the edit in [0, 1] (of what it adds
        to ``base``, where a base is used).
    """
    tris, adj = mesh_triangles(), vertex_adjacency()
    p = np.asarray(src, np.float64)[:N_MESH, :2]
    d = np.asarray(dst, np.float64)[:N_MESH, :2]
    ori = _Orientation(p, tris) if orientation is None else orientation
    q = p
    if base is not None:   # made fold-free itself first (shrunk towards the measured one)
        q = local_unfold(src, base, shrink, max_steps, ori)[0][:N_MESH, :2].astype(np.float64)
    s = np.ones(N_MESH)
    for step in range(max_steps + 1):
        bad = ori.flipped(q + (d - q) * s[:, None])
        if not bad.any():
            break
        v = np.unique(tris[bad])
        if step == max_steps:
            s[v] = 0.0
            continue
        s[v] *= shrink
        s = np.minimum(s, 0.5 * s + 0.5 * (adj @ s))   # fade the shrink, no step
    out = np.array(dst, copy=True)
    out[:N_MESH, :2] = q + (d - q) * s[:, None]
    return out, s


class ArapSolver:
    """2D ARAP with soft handles on the canonical mesh, factorised once per clip.

    Minimises ``sum_f a_f |J_f(x) - R_f J_f(p)|^2 + sum_i w_i |x_i - t_i|^2`` over the
    468 points x, where p is the frame's measured geometry, t the edited one (the soft
    handles), J_f the Jacobian of triangle f measured against ``reference`` (so the matrix
    is the same for every frame) and R_f the best rotation (local step, closed form).
    The eye and mouth opening triangles carry no stiffness (speech and blinks deform them
    freely).

    Args:
        reference: (478, 2+) the clip's reference geometry in pixels (e.g. the median of
            some measured frames).
        handle_weight: weight of every target point relative to the median stiffness.
    """

    def __init__(self, reference: np.ndarray, handle_weight: float = 0.3) -> None:
        import scipy.sparse as sp
        from scipy.sparse.linalg import splu

        from ned.facemodel.mesh import aperture_triangles

        r = np.asarray(reference, np.float64)
        if r.ndim != 2 or r.shape[0] < N_MESH or r.shape[1] < 2 or not np.isfinite(r).all():
            raise NedError(f"ARAP reference must be finite ({N_MESH}+, 2+) points, "
                           f"got {r.shape}")
        tris = mesh_triangles()
        r = r[:N_MESH, :2]
        e1, e2 = r[tris[:, 1]] - r[tris[:, 0]], r[tris[:, 2]] - r[tris[:, 0]]
        det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
        area = 0.5 * np.abs(det)
        ap = aperture_triangles(tris)
        ok = (area > 0.05 * np.median(area)) & ~(ap["mouth"] | ap["eyes"])
        safe = np.where(np.abs(det) > 1e-12, det, 1.0)
        g1 = np.stack([e2[:, 1], -e2[:, 0]], 1) / safe[:, None]     # rows of E^-1
        g2 = np.stack([-e1[:, 1], e1[:, 0]], 1) / safe[:, None]
        g = np.stack([-(g1 + g2), g1, g2], 1)                        # (F, 3 corners, 2)
        f = len(tris)
        rows = np.broadcast_to(np.arange(f)[:, None, None] * 2 + np.arange(2), (f, 3, 2))
        cols = np.broadcast_to(tris[:, :, None], (f, 3, 2))
        self.D = sp.csr_matrix((g[ok].ravel(), (rows[ok].ravel(), cols[ok].ravel())),
                               shape=(2 * f, N_MESH))
        a = np.where(ok, area, 0.0)
        weights = np.repeat(a / max(a[ok].mean(), 1e-12), 2)
        lap = (self.D.T @ sp.diags(weights) @ self.D).tocsc()
        self.w = handle_weight * float(np.median(lap.diagonal()))
        self.lu = splu((lap + self.w * sp.identity(N_MESH)).tocsc())
        self.DtA = (self.D.T @ sp.diags(weights)).tocsr()

    def _jacobians(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """The four (F,) entries a, b, c, d of each triangle's Jacobian [[a, b], [c, d]]
        of the reference -> ``x`` (468, 2) map."""
        j = (self.D @ x).reshape(-1, 2, 2)          # j[f, c, d] = dx_d / dref_c
        return j[:, 0, 0], j[:, 1, 0], j[:, 0, 1], j[:, 1, 1]

    def solve(self, src: np.ndarray, target: np.ndarray, iters: int = 4) -> np.ndarray:
        """(468, 2) float64 deformed geometry.

        Args:
            src: (478, 2+) measured geometry of the frame (the rest shape).
            target: (478, 2+) edited geometry (the soft handles, also the start).
            iters: local / global iterations.
        """
        p = np.asarray(src, np.float64)[:N_MESH, :2]
        t = np.asarray(target, np.float64)[:N_MESH, :2]
        pa, pb, pc, pd = self._jacobians(p)
        x, wt = t.copy(), self.w * t
        rhs = np.empty((len(pa), 2, 2))
        for _ in range(iters):
            xa, xb, xc, xd = self._jacobians(x)
            # the rotation closest to J(x) J(p)^T (closed form in 2D)
            m00, m01 = xa * pa + xb * pb, xa * pc + xb * pd
            m10, m11 = xc * pa + xd * pb, xc * pc + xd * pd
            th = np.arctan2(m10 - m01, m00 + m11)
            c, s = np.cos(th), np.sin(th)
            # rows of R J(p), laid out as D's rows (triangle, ref axis) x (x, y)
            rhs[:, 0, 0], rhs[:, 1, 0] = c * pa - s * pc, c * pb - s * pd
            rhs[:, 0, 1], rhs[:, 1, 1] = s * pa + c * pc, s * pb + c * pd
            b = self.DtA @ rhs.reshape(-1, 2) + wt
            x = np.stack([self.lu.solve(b[:, 0]), self.lu.solve(b[:, 1])], 1)
        return x


@functools.lru_cache(maxsize=1)
def _neighbours() -> np.ndarray:
    """(468, K) each vertex's edge neighbours, padded with the vertex itself."""
    adj = vertex_adjacency().tocsr()
    rows = [adj.indices[adj.indptr[i]:adj.indptr[i + 1]] for i in range(N_MESH)]
    k = max(len(r) for r in rows)
    out = np.array([np.concatenate([r, np.full(k - len(r), i)]) for i, r in enumerate(rows)])
    out.flags.writeable = False
    return out


def smooth_field(field: np.ndarray, steps: int = 3) -> np.ndarray:
    """A displacement field over the skin, smoothed by ``steps`` rounds of averaging each
    mesh point with the mean of its skin neighbours (lips and lids stay apart).

    Args:
        field: (..., 478, 3) displacements (iris points are kept as they are).
        steps: rounds (0: unchanged).

    Returns:
        (..., 478, 3) float32.
    """
    out = np.array(field, np.float32, copy=True)
    adj = vertex_adjacency(skin=True)
    flat = np.moveaxis(out[..., :N_MESH, :], -2, 0)            # (468, ..., 3)
    shape = flat.shape
    x = flat.reshape(N_MESH, -1).astype(np.float64)
    for _ in range(steps):
        x = 0.5 * x + 0.5 * (adj @ x)
    out[..., :N_MESH, :] = np.moveaxis(x.reshape(shape), 0, -2)
    return out


def fold_rings(bad: np.ndarray, rings: int = 3, decay: float = 0.6) -> np.ndarray:
    """(468,) weight in [0, 1]: 1 on the vertices of the flipped triangles ``bad`` (F,),
    falling by ``decay`` per edge ring over ``rings`` rings, 0 beyond."""
    nbr = _neighbours()
    m = np.zeros(N_MESH)
    m[np.unique(mesh_triangles()[bad])] = 1.0
    for _ in range(rings):
        m = np.maximum(m, decay * m[nbr].max(1))
    return m


@dataclass(frozen=True)
class FoldFix:
    """What :func:`fold_free` did to one frame's edit.

    Attributes:
        folds: front triangles the edited geometry folded.
        reached: fraction of the edit kept, 1 - sum|x - t| / sum|t - p| over the mesh
            points (1: the edit as planned; t: target, p: measured, x: result).
        shrunk: the edit had to be shrunk somewhere (after the ARAP step).
    """

    folds: int
    reached: float
    shrunk: bool


def fold_free(solver: ArapSolver, src: np.ndarray, dst: np.ndarray, iters: int = 4,
              base: np.ndarray | None = None) -> tuple[np.ndarray, FoldFix]:
    """Geometry with no folded triangle, as close to ``dst`` as it can be.

    Args:
        solver: the clip's :class:`ArapSolver`.
        src: (478, 3) measured landmarks, pixels.
        dst: (478, 3) edited landmarks, pixels.
        iters: ARAP iterations.
        base: (478, 3) the part of the edit that removes the other emotions' expressions
            (the face towards its own rest): where the whole edit still folds after the
            ARAP step, what it adds to this is shrunk (:func:`local_unfold`), so a grin
            stays removed where a frown drawn over it folds. None: the edit is shrunk
            towards ``src``.

    Returns:
        ((478, 3) float32 fold-free landmarks, :class:`FoldFix`). Each iris moves with
        what its eye contour got.
    """
    p, t = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if p.shape != (tp.N_LANDMARKS, 3) or t.shape != p.shape:
        raise NedError(f"fold_free needs two ({tp.N_LANDMARKS}, 3) geometries, got "
                       f"{p.shape} and {t.shape}")
    ori = _Orientation(p, mesh_triangles())
    bad = ori.flipped(t)
    if not bad.any():
        return t.astype(np.float32), FoldFix(0, 1.0, False)
    x = solver.solve(p, t, iters)
    out = t.copy()
    out[:N_MESH, :2] += fold_rings(bad)[:, None] * (x - t[:N_MESH, :2])
    out, scale = local_unfold(p, out, orientation=ori, base=base)
    for iris, eye in ((tp.RIGHT_IRIS, tp.RIGHT_EYE), (tp.LEFT_IRIS, tp.LEFT_EYE)):
        out[list(iris), :2] = t[list(iris), :2] + (out[list(eye), :2]
                                                   - t[list(eye), :2]).mean(0)
    off = np.linalg.norm(out[:N_MESH, :2] - t[:N_MESH, :2], axis=1).sum()
    edit = max(np.linalg.norm(t[:N_MESH, :2] - p[:N_MESH, :2], axis=1).sum(), 1e-9)
    return out.astype(np.float32), FoldFix(int(bad.sum()), float(max(0.0, 1.0 - off / edit)),
                                           bool(scale.min() < 1.0))
