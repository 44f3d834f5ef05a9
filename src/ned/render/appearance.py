"""Appearance that follows the edited expression: creases, the mouth's interior, the eyes.

A warp moves skin but cannot draw what an expression does to its surface. Three cues are
added to the warped face patch, all procedural or taken from the same clip, no training:

* **Creases** (:func:`crease_lines`, :func:`shade_creases`): at the places where faces
  crease (nasolabial lines, the vertical furrows between the brows and the line across the
  nose root, forehead lines, crow's feet, the folds above the upper lid and under the lower
  lid), the deformation's
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
from ned.render.warp import polygon_mask
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
            ``crows_feet``, ``under_eye``, ``lid_fold``).
        points: (K, 2) polyline, pixels.
        bulge: (K, 2) unit normals pointing to the side that bulges (gets the highlight).
        width: line width in pixels.
    """

    name: str
    points: np.ndarray
    bulge: np.ndarray
    width: float


@functools.lru_cache(maxsize=1)
def _mirror() -> np.ndarray:
    from ned.facemodel.fields import mirror_index
    from ned.facemodel.mesh import load_canonical_mesh

    return mirror_index(load_canonical_mesh().vertices)


def _resample(poly: np.ndarray, n: int) -> np.ndarray:
    """(n, 2) points evenly spaced by arc length along the polyline (K, 2)."""
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(poly[:1], n, axis=0)
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, poly[:, 0]), np.interp(t, s, poly[:, 1])], 1)


def _normals(poly: np.ndarray, towards: np.ndarray) -> np.ndarray:
    """(K, 2) unit normals of the polyline, each turned to the side of ``towards`` (K, 2)
    or (2,)."""
    tan = np.gradient(poly, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    nrm = np.stack([-tan[:, 1], tan[:, 0]], 1)
    side = np.sign(((towards - poly) * nrm).sum(1, keepdims=True))
    side[side == 0] = 1
    return nrm * side


def crease_lines(points: np.ndarray) -> list[Crease]:
    """The face's crease lines in the geometry ``points``.

    Args:
        points: (478, 2+) landmarks, pixels.

    Returns:
        Crease lines (both sides), placed from the landmarks: they move with the face.
    """
    p = np.asarray(points, np.float64)[:, :2]
    if p.shape[0] != N_LANDMARKS:
        raise NedError(f"crease_lines needs ({N_LANDMARKS}, 2+) points, got {points.shape}")
    iod = float(inter_ocular(p))
    mir = _mirror()
    out: list[Crease] = []
    w = 0.04 * iod
    for side in (0, 1):
        ids = (lambda t: tuple(int(mir[i]) for i in t)) if side else (lambda t: t)
        # nasolabial: from beside the nose wing to beside the mouth corner; the cheek bulges
        nl = _resample(p[list(ids(_NASOLABIAL_R))], 9)
        cheek = p[ids((50,))[0]]
        out.append(Crease("nasolabial", nl, _normals(nl, cheek), w))
        # the fold under the lower lid (a squint's raised cheek below it)
        ue = _resample(p[list(ids(_UNDER_EYE_R))], 8)
        out.append(Crease("under_eye", ue, _normals(ue, p[ids((118,))[0]]), 0.8 * w))
        # the upper lid's fold: a lowered brow pushes the skin above it down over the lid
        # (the hooded, shadowed eye of a frown); the skin above bulges
        # (drawn broad, over the band between the fold and the lid's margin: on a small face
        # a thin line vanishes, and the band's bright skin, squeezed, read as a white rim)
        lf = _resample(0.5 * (p[list(ids(_LID_FOLD_R))] + p[list(ids(_UPPER_LID_R))]), 7)
        out.append(Crease("lid_fold", lf, _normals(lf, p[ids((52,))[0]]), 1.6 * w))
        # crow's feet: three short lines fanning out of the outer eye corner
        outer, inner = p[263 if side else 33], p[362 if side else 133]
        d = (outer - inner) / max(np.linalg.norm(outer - inner), 1e-9)
        for ang in (-0.45, 0.0, 0.45):
            c, s = np.cos(ang), np.sin(ang)
            v = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
            line = outer + v * 0.1 * iod + np.linspace(0, 1, 5)[:, None] * v * 0.16 * iod
            nrm = np.repeat(np.array([[-v[1], v[0]]]), 5, 0)
            out.append(Crease("crows_feet", line, nrm, 0.6 * w))
    # glabella: two vertical furrows between the inner brow heads; the brows bulge medially
    for t in (0.35, 0.65):
        lo = p[55] * (1 - t) + p[285] * t
        up = p[107] * (1 - t) + p[336] * t
        top = up + (p[151] - p[9]) * 0.2
        line = _resample(np.stack([lo * 0.7 + up * 0.3, top]), 5)
        mid = (p[55] + p[285]) / 2
        out.append(Crease("glabella", line, _normals(line, mid), 0.8 * w))
    # nose root: the horizontal line the procerus draws between the eyes
    nr = _resample(p[[193, 168, 417]], 6)
    out.append(Crease("nose_root", nr, _normals(nr, p[9]), 0.8 * w))
    # forehead lines: arcs between the brows' upper edge and the top of the forehead
    brow = _resample(p[list(_BROW_TOP)], 16)
    top = _resample(p[list(_FOREHEAD_TOP)], 16)
    for f in (0.3, 0.5, 0.7):
        line = (brow * (1 - f) + top * f)[2:-2]
        out.append(Crease("forehead", line, _normals(line, brow[2:-2]), w))
    return out


def compression_across(src: np.ndarray, dst: np.ndarray, creases: list[Crease],
                       triangles: np.ndarray) -> list[np.ndarray]:
    """How much the skin is compressed across each crease line by the edit.

    For each crease point (in the edited geometry) the deformation gradients ``F`` of the
    mesh triangles within 0.08 inter-ocular distances (their centroids) are averaged, and
    the compression across the line with normal ``n`` is ``1 - 1 / |F^-1 n|``: 0.2 means
    what spans 1 px across the line in the edit spanned 1.25 px in the source. Negative:
    stretched.

    Args:
        src: (478, 2+) measured landmarks, pixels.
        dst: (478, 2+) edited landmarks, pixels.
        creases: the crease lines in the edited geometry (:func:`crease_lines` of ``dst``).
        triangles: (F, 3) mesh triangles.

    Returns:
        Per crease a (K,) float array of compression at its points.
    """
    s, d = np.asarray(src, np.float64)[:, :2], np.asarray(dst, np.float64)[:, :2]
    ts, td = s[triangles], d[triangles]
    es = np.stack([ts[:, 1] - ts[:, 0], ts[:, 2] - ts[:, 0]], 2)  # (F, 2, 2) columns
    ed = np.stack([td[:, 1] - td[:, 0], td[:, 2] - td[:, 0]], 2)
    det = ed[:, 0, 0] * ed[:, 1, 1] - ed[:, 0, 1] * ed[:, 1, 0]
    ok = np.abs(det) > 1e-6
    # Ed^-1 of each 2x2 by its adjugate; F^-1 = Es Ed^-1 maps an edited vector to the source
    adj = np.empty_like(ed)
    adj[:, 0, 0], adj[:, 1, 1] = ed[:, 1, 1], ed[:, 0, 0]
    adj[:, 0, 1], adj[:, 1, 0] = -ed[:, 0, 1], -ed[:, 1, 0]
    adj /= np.where(ok, det, 1.0)[:, None, None]
    inv_f = np.einsum("fij,fjk->fik", es, adj)
    inv_f[~ok] = 0.0
    cent = td.mean(1)
    radius = 0.08 * float(inter_ocular(d))
    pts = np.concatenate([c.points for c in creases])
    nrm = np.concatenate([c.bulge for c in creases])
    d2 = ((pts * pts).sum(1)[:, None] + (cent * cent).sum(1)[None]
          - 2.0 * pts @ cent.T)  # (P, F) squared distances
    d2[:, ~ok] = np.inf
    near = d2 < radius ** 2
    near[np.arange(len(pts)), d2.argmin(1)] = True  # at least the nearest triangle
    near[:, ~ok] = False
    weights = near / np.maximum(near.sum(1, keepdims=True), 1)
    fbar = (weights @ inv_f.reshape(len(inv_f), 4)).reshape(-1, 2, 2)  # (P, 2, 2)
    src_len = np.linalg.norm(np.einsum("kij,kj->ki", fbar, nrm), axis=1)
    comp = np.where(src_len > 1e-6, 1.0 - 1.0 / np.maximum(src_len, 1e-6), 0.0)
    return np.split(comp, np.cumsum([len(c.points) for c in creases])[:-1])


def light_direction(lum: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(2,) unit direction (image x, y) the light comes from, from a plane fitted to the
    face's smoothed brightness (zero when the face is evenly lit).

    Args:
        lum: (h, w) float32 brightness.
        mask: (h, w) float32 face mask in [0, 1].
    """
    ys, xs = np.nonzero(mask > 0.5)
    if len(xs) < 16:
        return np.zeros(2)
    step = max(1, len(xs) // 4000)
    xs, ys = xs[::step], ys[::step]
    a = np.stack([xs - xs.mean(), ys - ys.mean(), np.ones(len(xs))], 1)
    coef, *_ = np.linalg.lstsq(a, lum[ys, xs].astype(np.float64), rcond=None)
    g = coef[:2]
    n = np.linalg.norm(g)
    return g / n if n > 1e-9 else np.zeros(2)


#: Full compression (shading saturates) per crease kind, and its darkening at full
#: compression relative to the skin's brightness.
_FULL = {"nasolabial": 0.12, "under_eye": 0.12, "crows_feet": 0.12, "glabella": 0.10,
         "nose_root": 0.10, "forehead": 0.08, "lid_fold": 0.15}
_DARK = {"nasolabial": 0.22, "under_eye": 0.14, "crows_feet": 0.14, "glabella": 0.20,
         "nose_root": 0.12, "forehead": 0.13, "lid_fold": 0.18}


@functools.lru_cache(maxsize=64)
def _taper(n: int, phase: float = 0.0) -> np.ndarray:
    """(n,) profile along a line: 0 at both ends, 1 in the middle, gently uneven (a fixed
    function of the position along the line, so it stays put from frame to frame)."""
    t = np.linspace(0.0, 1.0, n)
    out = np.sin(np.pi * t) ** 0.8 * (0.85 + 0.15 * np.sin(2 * np.pi * (1.7 * t + phase)))
    out.flags.writeable = False  # cached: shared between calls
    return out


def _draw(canvas: np.ndarray, poly: np.ndarray, values: np.ndarray, thickness: int) -> None:
    pts = np.round(poly * 16).astype(np.int32)
    for k in range(len(pts) - 1):
        v = float(0.5 * (values[k] + values[k + 1]))
        if v > 1e-3:
            cv2.line(canvas, tuple(pts[k]), tuple(pts[k + 1]), v, thickness, cv2.LINE_AA, 4)


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
        (patch, compression): the shaded (h, w, 3) uint8 patch and the mean positive
        compression per crease kind.
    """
    _check_inputs(patch, src, dst, roi, "shade_creases")
    if mask.shape != patch.shape[:2]:
        raise NedError(f"shade_creases: mask {mask.shape} does not match the patch "
                       f"{patch.shape[:2]}")
    h, w = patch.shape[:2]
    off = np.array([roi[0], roi[1]], np.float64)
    creases = crease_lines(np.asarray(dst)[:, :2] - off)
    comp = compression_across(np.asarray(src)[:, :2] - off, np.asarray(dst)[:, :2] - off,
                              creases, triangles)
    stats: dict[str, list[float]] = {}
    for c, s in zip(creases, comp):
        stats.setdefault(c.name, []).append(float(np.clip(s, 0, None).mean()))
    if strength <= 0 or not any(np.any(np.abs(s) > 0.01) for s in comp):
        return patch, {k: float(np.mean(v)) for k, v in stats.items()}
    # everything happens in the box around the crease lines (with the blurs' reach)
    sig = max(0.6, 0.5 * float(np.median([c.width for c in creases])))
    pts = np.concatenate([c.points for c in creases])
    reach = 12 * sig + 4 * max(c.width for c in creases) + 2
    bx0, by0 = np.maximum(np.floor(pts.min(0) - reach).astype(int), 0)
    bx1, by1 = np.minimum(np.ceil(pts.max(0) + reach).astype(int) + 1, (w, h))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return patch, {k: float(np.mean(v)) for k, v in stats.items()}
    off_b = np.array([bx0, by0], np.float64)
    box_mask = mask[by0:by1, bx0:bx1]
    box = patch[by0:by1, bx0:bx1]
    lum = cv2.cvtColor(box, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = (max(1, lum.shape[1] // 4), max(1, lum.shape[0] // 4))
    light = light_direction(cv2.resize(lum, small, interpolation=cv2.INTER_AREA),
                            cv2.resize(box_mask, small, interpolation=cv2.INTER_AREA))
    # texture contrast of the face: creases are fainter on a soft, flat-lit face
    hp = lum - cv2.GaussianBlur(lum, (0, 0), 2)
    inside = box_mask > 0.5
    contrast = float(hp[inside].std()) if inside.any() else 0.0
    scale = strength * float(np.clip(contrast / 4.0, 0.6, 1.4))
    shape = lum.shape
    dark = np.zeros(shape, np.float32)
    lit = np.zeros(shape, np.float32)
    lift = np.zeros(shape, np.float32)
    for j, (c, s) in enumerate(zip(creases, comp)):
        full, amp = _FULL[c.name], _DARK[c.name] * scale
        line = c.points - off_b
        k = np.clip(s / full, 0, 1) * _taper(len(s), 0.37 * j)
        if k.max() > 1e-3:
            facing = (c.bulge @ light) if light.any() else np.zeros(len(c.points))
            _draw(dark, line, amp * k * (1.0 - 0.25 * facing), max(1, round(0.7 * c.width)))
            _draw(lit, line + c.bulge * 1.6 * c.width,
                  0.45 * amp * k * (1.0 + 0.5 * facing), max(1, round(1.5 * c.width)))
        if s.min() < -1e-3:
            _draw(lift, line, np.clip(-s / full, 0, 1) * _taper(len(s)),
                  max(1, round(2 * c.width)))
    dark = cv2.GaussianBlur(dark, (0, 0), sig)
    lit = cv2.GaussianBlur(lit, (0, 0), 1.5 * sig)
    gain = 1.0 - dark + lit
    if lift.max() > 0:
        # a source crease under a stretched line: lift its darkness (the difference to its
        # surroundings at the crease's scale), keep the finer texture
        lift = cv2.GaussianBlur(lift, (0, 0), 2 * sig)
        fine = cv2.GaussianBlur(lum, (0, 0), 1.5 * sig)
        small = cv2.resize(lum, (max(1, lum.shape[1] // 4), max(1, lum.shape[0] // 4)),
                           interpolation=cv2.INTER_AREA)
        broad = cv2.resize(cv2.GaussianBlur(small, (0, 0), max(0.5, 1.5 * sig)),
                           lum.shape[::-1], interpolation=cv2.INTER_LINEAR)
        deficit = np.clip(broad - fine, 0, None) / np.maximum(fine, 1.0)
        gain *= 1.0 + 0.8 * lift * deficit
    gain = 1.0 + (gain - 1.0) * box_mask
    out = patch.copy()
    sel = np.abs(gain - 1.0) > 1.0 / 512  # shading is sparse: change only what it touches
    shaded = box[sel].astype(np.float32) * gain[sel][:, None]
    out[by0:by1, bx0:bx1][sel] = np.clip(shaded + 0.5, 0, 255).astype(np.uint8)
    return out, {k: float(np.mean(v)) for k, v in stats.items()}


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
        off = np.array(roi[:2], np.float64)
        lips_d = np.asarray(dst, np.float64)[list(LIPS_INNER), :2] - off
        lips_s = np.asarray(src, np.float64)[list(LIPS_INNER), :2] - off
        new = polygon_mask(lips_d, (h, w)) & ~polygon_mask(lips_s, (h, w))
        if new.sum() < 4:
            return 0
        colour = self._lip_colour(image, src)
        if colour is None:
            return 0
        soft = cv2.GaussianBlur(new.astype(np.float32), (0, 0), 0.8)
        soft = np.maximum(soft, new * 0.85)[..., None]
        if self.crop is not None:
            a, _ = cv2.estimateAffine2D(self.lips.astype(np.float32), lips_d.astype(np.float32),
                                        method=cv2.LMEDS)
            if a is None:
                return 0
            fill = cv2.warpAffine(self.crop, a, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            fill *= (colour / np.maximum(self.lip_colour, 1.0))[None, None]
        else:
            # no open mouth seen yet: a shadowed interior in the lips' own colour, darkest
            # in the middle of the opening
            dist = cv2.distanceTransform(polygon_mask(lips_d, (h, w)).astype(np.uint8),
                                         cv2.DIST_L2, 3)
            depth = np.clip(dist / max(float(dist.max()), 1.0), 0, 1)[..., None]
            fill = colour[None, None] * (0.35 - 0.2 * depth)
        out = patch.astype(np.float32) * (1 - soft) + fill * soft
        patch[:] = np.clip(out, 0, 255).astype(np.uint8)
        return int(new.sum())


_UPPER_LID = {"right": (33, 246, 161, 160, 159, 158, 157, 173, 133),
              "left": (263, 466, 388, 387, 386, 385, 384, 398, 362)}
_LOWER_LID = {"right": (33, 7, 163, 144, 145, 153, 154, 155, 133),
              "left": (263, 249, 390, 373, 374, 380, 381, 382, 362)}


def _lid_at(points: np.ndarray, ids: tuple[int, ...], t: np.ndarray) -> np.ndarray:
    """y of the lid polyline at the parameters ``t`` in [0, 1] along the eye's corner axis."""
    p = points[list(ids), :2]
    axis = p[-1] - p[0]
    u = ((p - p[0]) @ axis) / max(float(axis @ axis), 1e-9)
    order = np.argsort(u)
    y = p[:, 1] - (p[0, 1] + u * axis[1])  # height above the corner line
    return np.interp(t, u[order], y[order])


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
        ud = base + _lid_at(d, up, np.clip(t, 0, 1))
        ld = base + _lid_at(d, lo, np.clip(t, 0, 1))
        hs = _lid_at(s, lo, np.clip(t, 0, 1)) - _lid_at(s, up, np.clip(t, 0, 1))
        hd = ld - ud
        grow = np.clip((hd - hs) / np.maximum(0.35 * np.abs(hs), 0.02 * iod), 0, 1)
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
