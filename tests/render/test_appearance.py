import numpy as np
import pytest

from ned import topology as tp
from ned.errors import NedError
from ned.io import read_frames
from ned.mask import face_mask
from ned.render.appearance import (
    _BROW_TOP,
    _FOREHEAD_TOP,
    _LID_FOLD_R,
    _NASOLABIAL_R,
    _NOSE_SIDE_R,
    _UNDER_EYE_R,
    _UPPER_LID_R,
    AppearanceConfig,
    MouthBank,
    _mirror,
    _near_pairs,
    compression_across,
    crease_lines,
    light_direction,
    shade_creases,
    widen_eyes,
)
from ned.render.warp import mesh_triangles, warp_patch

KINDS = {"nasolabial", "under_eye", "crows_feet", "glabella", "nose_root", "forehead",
         "lid_fold", "nose_side", "under_lip"}


@pytest.fixture(scope="module")
def frames(single_face_track, single_face_path):
    """Frame 14 (lips closed) and frame 36 (a grin, lips parted) with their landmarks."""
    out = {}
    for i in (14, 36):
        image = next(read_frames(single_face_path, start=i, stop=i + 1)).image
        out[i] = image, single_face_track.landmarks[i].astype(np.float64)
    return out


def _box(points, pad=30):
    lo = np.floor(points[:, :2].min(0) - pad).astype(int)
    hi = np.ceil(points[:, :2].max(0) + pad).astype(int)
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def _scaled_about_centre(src, sx=1.0, sy=1.0):
    dst = src.copy()
    c = src[:, :2].mean(0)
    dst[:, 0] = c[0] + (src[:, 0] - c[0]) * sx
    dst[:, 1] = c[1] + (src[:, 1] - c[1]) * sy
    return dst


# errors
def test_config_rejects_bad_strength():
    with pytest.raises(NedError):
        AppearanceConfig(strength=3.0)
    with pytest.raises(NedError):
        AppearanceConfig(strength=float("nan"))
    assert not AppearanceConfig(creases=False, interior=False, eyes=False).any


def test_cues_reject_mismatched_inputs(frames):
    image, src = frames[36]
    box = _box(src)
    patch, roi = warp_patch(image, src, src.copy(), box=box)
    mask = np.ones(patch.shape[:2], np.float32)
    tris = mesh_triangles()
    with pytest.raises(NedError, match="roi"):
        shade_creases(patch, src, src, (0, 0, 5, 5), mask, tris)
    with pytest.raises(NedError, match="mask"):
        shade_creases(patch, src, src, roi, mask[:-1], tris)
    with pytest.raises(NedError, match="landmarks"):
        widen_eyes(patch, image, src[:68], src, roi)
    with pytest.raises(NedError, match="uint8 patch"):
        MouthBank().fill(patch.astype(np.float32), image, src, src, roi)


def test_crease_lines_need_full_landmarks():
    with pytest.raises(NedError):
        crease_lines(np.zeros((68, 2)))


# shape
def test_crease_lines_cover_both_sides_and_lie_on_the_face(frames):
    _, src = frames[36]
    creases = crease_lines(src)
    names = [c.name for c in creases]
    assert set(names) == KINDS
    assert names.count("nasolabial") == 2 and names.count("crows_feet") == 6
    assert names.count("lid_fold") == 2
    lo, hi = src[:, :2].min(0), src[:, :2].max(0)
    iod = float(tp.inter_ocular(src))
    for c in creases:
        assert c.points.shape == c.bulge.shape and c.points.shape[1] == 2
        np.testing.assert_allclose(np.linalg.norm(c.bulge, axis=1), 1.0, atol=1e-6)
        assert np.all(c.points >= lo - 0.3 * iod) and np.all(c.points <= hi + 0.3 * iod)
    # the two nasolabial lines are mirror images about the face's midline
    left, right = (c.points for c in creases if c.name == "nasolabial")
    mid = src[[1, 168, 152], 0].mean()
    assert np.sign(left[:, 0].mean() - mid) != np.sign(right[:, 0].mean() - mid)


# the vectorised construction against the per-crease one it replaced
def _resample(poly, n):
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(poly[:1], n, axis=0)
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, poly[:, 0]), np.interp(t, s, poly[:, 1])], 1)


def _normals(poly, towards):
    tan = np.gradient(poly, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    nrm = np.stack([-tan[:, 1], tan[:, 0]], 1)
    side = np.sign(((towards - poly) * nrm).sum(1, keepdims=True))
    side[side == 0] = 1
    return nrm * side


def _reference_creases(p):
    """(name, points, bulge, width) of every crease, one crease at a time."""
    p = np.asarray(p, np.float64)[:, :2]
    iod = float(tp.inter_ocular(p))
    mir = _mirror()
    out, w = [], 0.04 * iod
    for side in (0, 1):
        def ids(t, side=side):
            return tuple(int(mir[i]) for i in t) if side else t
        nl = _resample(p[list(ids(_NASOLABIAL_R))], 9)
        out.append(("nasolabial", nl, _normals(nl, p[ids((50,))[0]]), w))
        ue = _resample(p[list(ids(_UNDER_EYE_R))], 8)
        out.append(("under_eye", ue, _normals(ue, p[ids((118,))[0]]), 0.8 * w))
        lf = _resample(0.5 * (p[list(ids(_LID_FOLD_R))] + p[list(ids(_UPPER_LID_R))]), 7)
        out.append(("lid_fold", lf, _normals(lf, p[ids((52,))[0]]), 1.6 * w))
        outer, inner = p[263 if side else 33], p[362 if side else 133]
        d = (outer - inner) / max(np.linalg.norm(outer - inner), 1e-9)
        for ang in (-0.45, 0.0, 0.45):
            c, s = np.cos(ang), np.sin(ang)
            v = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
            line = outer + v * 0.1 * iod + np.linspace(0, 1, 5)[:, None] * v * 0.16 * iod
            out.append(("crows_feet", line, np.repeat([[-v[1], v[0]]], 5, 0), 0.6 * w))
        for ids_ in _NOSE_SIDE_R:
            ns = _resample(p[list(ids(ids_))], 5)
            out.append(("nose_side", ns, _normals(ns, p[ids((236,))[0]]), 0.6 * w))
    for t in (0.35, 0.65):
        lo = p[55] * (1 - t) + p[285] * t
        up = p[107] * (1 - t) + p[336] * t
        line = _resample(np.stack([lo * 0.7 + up * 0.3, up + (p[151] - p[9]) * 0.2]), 5)
        out.append(("glabella", line, _normals(line, (p[55] + p[285]) / 2), 0.8 * w))
    nr = _resample(p[[193, 168, 417]], 6)
    out.append(("nose_root", nr, _normals(nr, p[9]), 0.8 * w))
    ids = (182, 83, 18, int(mir[83]), int(mir[182]))
    ul = _resample(p[list(ids)], 9)
    out.append(("under_lip", ul, _normals(ul, p[199]), 0.9 * w))
    brow = _resample(p[list(_BROW_TOP)], 16)
    top = _resample(p[list(_FOREHEAD_TOP)], 16)
    for f in (0.3, 0.5, 0.7):
        line = (brow * (1 - f) + top * f)[2:-2]
        out.append(("forehead", line, _normals(line, brow[2:-2]), w))
    return out


def test_crease_lines_match_the_per_crease_construction(frames, single_face_track):
    rng = np.random.default_rng(3)
    cases = [frames[14][1], frames[36][1], single_face_track.landmarks[60]]
    # and an edited, slightly jittered face (the lines follow any geometry)
    cases.append(_scaled_about_centre(frames[36][1], 1.05, 0.9)
                 + rng.normal(0, 0.3, frames[36][1].shape))
    for points in cases:
        got, want = crease_lines(points), _reference_creases(points)
        assert [c.name for c in got] == [w[0] for w in want]
        for c, (_, pts, bulge, width) in zip(got, want):
            np.testing.assert_allclose(c.points, pts, atol=1e-9)
            np.testing.assert_allclose(c.bulge, bulge, atol=1e-9)
            assert c.width == pytest.approx(width, rel=1e-12)


def _dense_compression(src, dst, creases, tris):
    """compression_across comparing every point with every triangle."""
    s, d = src[:, :2], dst[:, :2]
    ts, td = s[tris], d[tris]
    es = np.stack([ts[:, 1] - ts[:, 0], ts[:, 2] - ts[:, 0]], 2)
    ed = np.stack([td[:, 1] - td[:, 0], td[:, 2] - td[:, 0]], 2)
    det = np.linalg.det(ed)
    ok = np.abs(det) > 1e-6
    inv_f = np.zeros_like(es)
    inv_f[ok] = es[ok] @ np.linalg.inv(ed[ok])
    cent = td.mean(1)
    radius = 0.08 * float(tp.inter_ocular(d))
    pts = np.concatenate([c.points for c in creases])
    nrm = np.concatenate([c.bulge for c in creases])
    d2 = ((pts[:, None] - cent[None]) ** 2).sum(2)
    d2[:, ~ok] = np.inf
    near = d2 < radius ** 2
    near[np.arange(len(pts)), d2.argmin(1)] = True
    fbar = np.einsum("pf,fij->pij", near / near.sum(1, keepdims=True), inv_f)
    n = np.linalg.norm(np.einsum("pij,pj->pi", fbar, nrm), axis=1)
    comp = np.where(n > 1e-6, 1 - 1 / np.maximum(n, 1e-6), 0.0)
    return np.split(comp, np.cumsum([len(c.points) for c in creases])[:-1])


def test_compression_on_the_grid_equals_the_dense_search(frames):
    _, src = frames[36]
    tris = mesh_triangles()
    rng = np.random.default_rng(7)
    # a smooth, uneven deformation: brows down and together, cheeks up, a twist
    c = src[:, :2].mean(0)
    rel = (src[:, :2] - c) / float(tp.inter_ocular(src))
    dst = src.copy()
    dst[:, 0] += 4 * np.sin(2 * rel[:, 1]) + rng.normal(0, 0.2, len(src))
    dst[:, 1] += 5 * np.cos(3 * rel[:, 0]) * rel[:, 1] + rng.normal(0, 0.2, len(src))
    creases = crease_lines(dst)
    # and a line far off the face: no triangle within the radius, the nearest one counts
    far = crease_lines(dst)[0]
    creases.append(type(far)("far", far.points + 3.0 * float(tp.inter_ocular(src)),
                             far.bulge, far.width))
    got = compression_across(src, dst, creases, tris)
    want = _dense_compression(src, dst, creases, tris)
    assert max(np.abs(g).max() for g in got) > 0.05  # the deformation compresses somewhere
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-9)


def test_near_pairs_are_exactly_the_pairs_within_the_radius():
    rng = np.random.default_rng(11)
    cent = rng.uniform(0, 100, (2, 900))
    ok = rng.random(900) > 0.1
    pts = rng.uniform(10, 90, (2, 150))
    pts[:, :10] = np.round(pts[:, :10] / 8) * 8  # on cell borders
    radius = 8.0
    pp, pt = _near_pairs(pts, cent, ok, radius)
    d2 = ((pts[:, :, None] - cent[:, None]) ** 2).sum(0)
    want = set(zip(*np.nonzero((d2 < radius ** 2) & ok[None])))
    assert set(zip(pp.tolist(), pt.tolist())) == want
    assert len(pp) == len(want) and np.all(np.diff(pp) >= 0)  # no repeats, by point
    # a grid too fine to pay: the caller's dense search instead
    assert _near_pairs(pts, cent, ok, 1e-3) is None


def test_compression_without_a_triangle_is_zero(frames):
    _, src = frames[36]
    flat = src.copy()
    flat[:, 1] = flat[0, 1]  # every edited triangle degenerate
    creases = crease_lines(src)
    for s in compression_across(src, flat, creases, mesh_triangles()):
        np.testing.assert_array_equal(s, 0.0)
    assert compression_across(src, src, [], mesh_triangles()) == []


def test_light_direction_of_a_ramp():
    yy, xx = np.mgrid[0:40, 0:50].astype(np.float32)
    mask = np.ones((40, 50), np.float32)
    np.testing.assert_allclose(light_direction(3 * xx - 4 * yy, mask), [0.6, -0.8], atol=1e-9)
    np.testing.assert_array_equal(light_direction(np.full((40, 50), 9, np.float32), mask), 0)
    # points on one column: the fit along it, no error
    col = np.zeros((40, 50), np.float32)
    col[:, 7] = 1
    np.testing.assert_allclose(light_direction(yy, col), [0.0, 1.0], atol=1e-9)
    np.testing.assert_array_equal(light_direction(xx, np.zeros((40, 50), np.float32)), 0)


# correctness: known answers
def test_compression_is_zero_without_edit_and_known_for_a_uniform_squeeze(frames):
    _, src = frames[36]
    tris = mesh_triangles()
    creases = crease_lines(src)
    for s in compression_across(src, src, creases, tris):
        np.testing.assert_allclose(s, 0.0, atol=1e-9)
    # squeeze the face vertically to 0.8: across a horizontal line 1 px of the edit spans
    # 1.25 px of the source, compression 1 - 1 / 1.25 = 0.2
    dst = _scaled_about_centre(src, sy=0.8)
    edited = crease_lines(dst)
    for c, s in zip(edited, compression_across(src, dst, edited, tris)):
        if c.name == "forehead":
            vertical = np.abs(c.bulge[:, 1])
            np.testing.assert_allclose(s[vertical > 0.99], 0.2, atol=0.01)
    # stretching is negative: 1 - 1 / 0.8 = -0.25
    dst = _scaled_about_centre(src, sy=1.25)
    edited = crease_lines(dst)
    k = [c.name for c in edited].index("forehead")
    s = compression_across(src, dst, edited, tris)[k]
    vertical = np.abs(edited[k].bulge[:, 1]) > 0.99
    np.testing.assert_allclose(s[vertical], -0.25, atol=0.01)


def _shade(image, src, dst):
    box = _box(src)
    patch, roi = warp_patch(image, src, dst, box=box)
    local = src - (roi[0], roi[1], 0)
    mask = face_mask(local, patch.shape[:2], dilate=2, feather=4)
    out, stats = shade_creases(patch.copy(), src, dst, roi, mask, mesh_triangles())
    return patch, out, roi, stats


def test_shading_is_exact_without_compression(frames):
    image, src = frames[36]
    patch, out, _, stats = _shade(image, src, src.copy())
    np.testing.assert_array_equal(out, patch)
    assert all(abs(v) < 1e-9 for v in stats.values())


def test_frowning_brows_darken_the_glabella_and_nothing_far_away(frames):
    image, src = frames[36]
    dst = src.copy()
    brows = list(tp.LEFT_EYEBROW + tp.RIGHT_EYEBROW)
    mid = src[brows, 0].mean()
    dst[brows, 0] = mid + (src[brows, 0] - mid) * 0.8  # pulled together
    dst[brows, 1] += 4.0  # and lowered
    patch, out, roi, stats = _shade(image, src, dst)
    assert stats["glabella"] > 0.05
    lum_in, lum_out = patch.astype(float).mean(2), out.astype(float).mean(2)
    diff = lum_out - lum_in
    creases = crease_lines(dst - (roi[0], roi[1], 0))
    glab = np.concatenate([c.points for c in creases if c.name == "glabella"])
    gx, gy = np.round(glab).astype(int).T
    assert diff[gy, gx].mean() < -3.0  # a visible dark furrow (grey levels)
    # the mouth, far from any compressed crease, is untouched
    mx, my = np.round(src[tp.UPPER_INNER_LIP, :2] - roi[:2]).astype(int)
    assert np.abs(diff[my - 2:my + 3, mx - 5:mx + 6]).max() <= 1.0


def _mean_change_along(kind, diff, dst, roi):
    creases = crease_lines(dst - (roi[0], roi[1], 0))
    pts = np.concatenate([c.points for c in creases if c.name == kind])
    gx, gy = np.round(pts).astype(int).T
    return diff[gy, gx].mean()


def test_raised_chin_and_nose_wings_darken_their_own_creases(frames):
    image, src = frames[14]
    iod = float(tp.inter_ocular(src))
    mesh = np.arange(tp.N_MESH)
    # AU 17: the skin between the lower lip and the chin pushed up towards the lip
    band = mesh[(src[mesh, 1] > src[17, 1]) & (src[mesh, 1] < src[152, 1])
                & (np.abs(src[mesh, 0] - src[17, 0]) < 0.5 * iod)]
    dst_chin = src.copy()
    dst_chin[band, 1] -= 0.06 * iod * (src[152, 1] - src[band, 1]) / (src[152, 1] - src[17, 1])
    patch, out, roi, stats = _shade(image, src, dst_chin)
    diff = out.astype(float).mean(2) - patch.astype(float).mean(2)
    assert stats["under_lip"] > 0.02
    assert _mean_change_along("under_lip", diff, dst_chin, roi) < -1.0
    assert abs(_mean_change_along("glabella", diff, dst_chin, roi)) <= 0.5
    # AU 9: the nose's wings raised, its root held: the side walls between squeezed
    root, tip = src[6, 1], src[tp.NOSE_TIP, 1] + 0.1 * iod
    wall = mesh[(src[mesh, 1] > root) & (src[mesh, 1] < tip)
                & (np.abs(src[mesh, 0] - src[6, 0]) < 0.35 * iod)]
    dst_nose = src.copy()
    dst_nose[wall, 1] -= 0.08 * iod * (src[wall, 1] - root) / (tip - root)
    patch, out, roi, stats = _shade(image, src, dst_nose)
    diff = out.astype(float).mean(2) - patch.astype(float).mean(2)
    assert stats["nose_side"] > 0.02
    assert _mean_change_along("nose_side", diff, dst_nose, roi) < -1.0
    assert abs(_mean_change_along("forehead", diff, dst_nose, roi)) <= 0.5


def test_a_stretched_source_crease_is_lifted(frames):
    # the grin's nasolabial lines, stretched by lowering the cheeks and mouth corners
    image, src = frames[36]
    dst = src.copy()
    lower = [i for i in range(tp.N_MESH) if src[i, 1] > src[tp.NOSE_TIP, 1]]
    dst[lower, 1] += (src[lower, 1] - src[tp.NOSE_TIP, 1]) * 0.15
    patch, out, roi, stats = _shade(image, src, dst)
    creases = crease_lines(dst - (roi[0], roi[1], 0))
    nl = np.concatenate([c.points for c in creases if c.name == "nasolabial"])
    gx, gy = np.round(nl).astype(int).T
    diff = out.astype(float).mean(2) - patch.astype(float).mean(2)
    assert diff[gy, gx].mean() > 0.0 and diff.min() >= -1.0  # only lifted, never darkened


# the mouth interior
def test_mouth_bank_keeps_the_most_open_mouth(frames):
    bank = MouthBank()
    image14, src14 = frames[14]
    bank.observe(image14, src14)
    assert bank.crop is None  # lips closed: nothing to keep
    image36, src36 = frames[36]
    bank.observe(image36, src36)
    assert bank.crop is not None and bank.gap > 0.15
    kept = bank.crop.copy()
    bank.observe(image14, src14)  # a less open mouth does not replace it
    np.testing.assert_array_equal(bank.crop, kept)
    bank.reset()
    assert bank.crop is None


def _open_lips(src, amount):
    dst = src.copy()
    upper = [i for i in tp.LIPS_INNER if src[i, 1] <= src[list(tp.LIPS_INNER), 1].mean()]
    lower = [i for i in tp.LIPS_INNER if i not in upper]
    dst[upper, 1] -= amount / 2
    dst[lower, 1] += amount / 2
    return dst


def test_opened_closed_lips_show_the_clips_teeth_or_a_dark_interior(frames):
    image, src = frames[14]
    dst = _open_lips(src, 6.0)
    box = _box(src)
    patch, roi = warp_patch(image, src, dst, box=box)
    inner = dst[list(tp.LIPS_INNER), :2] - roi[:2]
    lo, hi = np.floor(inner.min(0)).astype(int), np.ceil(inner.max(0)).astype(int)
    region = (slice(lo[1], hi[1] + 1), slice(lo[0], hi[0] + 1))
    warped = patch[region].astype(float).mean()
    dark = patch.copy()
    assert MouthBank().fill(dark, image, src, dst, roi) > 20
    teeth = patch.copy()
    bank = MouthBank()
    bank.observe(*frames[36])
    assert bank.fill(teeth, image, src, dst, roi) > 20
    # no exemplar: darker than the stretched lips; the grin's exemplar: brighter (teeth)
    assert dark[region].astype(float).mean() < warped - 5
    assert teeth[region].astype(float).max(2).mean() > dark[region].astype(float).max(2).mean() + 10
    # a mouth that the edit does not open further is left to the frame's own interior
    same = patch.copy()
    assert bank.fill(same, image, src, src.copy(), roi) == 0
    np.testing.assert_array_equal(same, patch)


# the eyes
def test_widened_eyes_show_sclera_and_unchanged_eyes_are_untouched(frames):
    image, src = frames[14]
    box = _box(src)
    patch, roi = warp_patch(image, src, src.copy(), box=box)
    same = patch.copy()
    assert widen_eyes(same, image, src, src.copy(), roi) == 0
    np.testing.assert_array_equal(same, patch)
    dst = src.copy()
    iod = float(tp.inter_ocular(src))
    for up in ((159, 158, 160, 157, 161), (386, 385, 387, 384, 388)):
        dst[list(up), 1] -= 0.08 * iod
    patch, roi = warp_patch(image, src, dst, box=box)
    out = patch.copy()
    assert widen_eyes(out, image, src, dst, roi) > 10
    # what changed is brighter on average (sclera painted over a stretched lid and iris)
    changed = np.any(out != patch, axis=2)
    assert out[changed].astype(float).mean() > patch[changed].astype(float).mean()
    # nothing changes outside the eyes' boxes
    eyes = np.zeros(changed.shape, bool)
    for eye in (tp.LEFT_EYE, tp.RIGHT_EYE):
        e = dst[list(eye), :2] - roi[:2]
        lo, hi = np.floor(e.min(0)).astype(int) - 2, np.ceil(e.max(0)).astype(int) + 3
        eyes[lo[1]:hi[1], lo[0]:hi[0]] = True
    assert not changed[~eyes].any()


def test_eye_growth_sampled_along_the_eye_bounds_every_pixel(frames):
    """The early exit of widen_eyes: the opening's growth depends on the position along
    the eye alone, so its samples bound every pixel's; a narrowed eye (a squint) grows
    nowhere and is skipped, one eye widened is found on that side only."""
    from ned.render.appearance import _LOWER_LID, _UPPER_LID, _eye_lids, _growth, _growth_along

    image, src = frames[14]
    s = src[:, :2].astype(np.float64)
    iod = float(tp.inter_ocular(s))
    squint = s.copy()
    for lo in _LOWER_LID.values():
        squint[list(lo), 1] -= 0.03 * iod
    for side in ("right", "left"):
        lids = _eye_lids(s, squint, _UPPER_LID[side], _LOWER_LID[side])
        assert _growth_along(lids, iod).max() == 0
    wide = s.copy()
    wide[list(_UPPER_LID["right"][1:-1]), 1] -= 0.08 * iod
    lids_r = _eye_lids(s, wide, _UPPER_LID["right"], _LOWER_LID["right"])
    right = _growth_along(lids_r, iod)
    left = _growth_along(_eye_lids(s, wide, _UPPER_LID["left"], _LOWER_LID["left"]), iod)
    assert right.max() > 0.5 and left.max() == 0
    t = np.random.default_rng(0).uniform(0, 1, 500)   # any pixel's growth is within the
    dense = _growth(lids_r, iod, t)                   # samples'
    assert dense.max() <= right.max() + 1e-9
    patch, roi = warp_patch(image, src, np.concatenate([squint, src[:, 2:]], 1),
                            box=_box(src))
    out = patch.copy()
    assert widen_eyes(out, image, src, np.concatenate([squint, src[:, 2:]], 1), roi) == 0
    np.testing.assert_array_equal(out, patch)


def test_eyes_widened_by_less_than_a_pixel_are_left_to_the_warp(frames):
    """An upper lid raised by half a pixel is no sclera to show: nothing is painted; the
    same lid raised by 3 px is painted."""
    from ned.render.appearance import (
        _LOWER_LID,
        _UPPER_LID,
        MIN_WIDENING_PX,
        _eye_lids,
        _widening_along,
    )

    image, src = frames[14]
    for lift, painted in ((0.5, False), (3.0, True)):
        dst = src.copy()
        for side in ("right", "left"):
            dst[list(_UPPER_LID[side][1:-1]), 1] -= lift
        s, d = src[:, :2].astype(np.float64), dst[:, :2].astype(np.float64)
        wid = _widening_along(_eye_lids(s, d, _UPPER_LID["right"], _LOWER_LID["right"]))
        assert wid.max() == pytest.approx(lift, rel=0.15)   # along the tilted eye
        assert (wid.max() >= MIN_WIDENING_PX) == painted
        patch, roi = warp_patch(image, src, dst, box=_box(src))
        out = patch.copy()
        assert (widen_eyes(out, image, src, dst, roi) > 0) == painted
        assert np.array_equal(out, patch) != painted
