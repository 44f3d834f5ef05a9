import numpy as np
import pytest

from ned import topology as tp
from ned.errors import NedError
from ned.io import read_frames
from ned.render.warp import (
    WarpConfig,
    anchor_points,
    fold_fraction,
    limit_shift,
    ring_triangles,
    warp_face,
)


@pytest.fixture(scope="module")
def frame_and_points(single_face_track, single_face_path):
    frame = next(read_frames(single_face_path, start=30, stop=31)).image
    return frame, single_face_track.landmarks[30].astype(np.float64)


# smoke / shape
def test_zero_edit_is_exact(frame_and_points):
    frame, src = frame_and_points
    out, roi = warp_face(frame, src, src.copy())
    assert out.shape == frame.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, frame)
    x0, y0, x1, y1 = roi
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360


# correctness
def test_moved_brows_move_pixels_up_and_nothing_outside_roi(frame_and_points):
    frame, src = frame_and_points
    dst = src.copy()
    brows = list(tp.LEFT_EYEBROW + tp.RIGHT_EYEBROW)
    dst[brows, 1] -= 6.0
    out, (x0, y0, x1, y1) = warp_face(frame, src, dst)
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frame[outside])
    # the brow itself (textured: the forehead between the brows is too plain to place a
    # shift) in the output matches the source 6 px lower (pixels moved up by 6)
    bx, by = src[list(tp.RIGHT_EYEBROW), :2].mean(0).round().astype(int)
    patch_out = out[by - 5:by + 5, bx - 15:bx + 15].astype(float)
    best = min(range(0, 12), key=lambda s: np.abs(
        frame[by - 5 + s:by + 5 + s, bx - 15:bx + 15].astype(float) - patch_out).mean())
    assert 5 <= best <= 7
    assert fold_fraction(dst, src) == 0.0


def test_mouth_pixels_untouched_when_mouth_does_not_move(frame_and_points):
    frame, src = frame_and_points
    dst = src.copy()
    dst[list(tp.LEFT_EYEBROW + tp.RIGHT_EYEBROW), 1] -= 6.0
    out, _ = warp_face(frame, src, dst)
    mx, my = src[[tp.UPPER_INNER_LIP, tp.LOWER_INNER_LIP], :2].mean(0).round().astype(int)
    np.testing.assert_array_equal(out[my - 3:my + 4, mx - 5:mx + 6],
                                  frame[my - 3:my + 4, mx - 5:mx + 6])


def test_limit_shift_bounds_displacement(frame_and_points):
    _, src = frame_and_points
    dst = src.copy()
    dst[1, 0] += 1000.0
    lim = limit_shift(src, dst, 0.2)
    shift = np.linalg.norm(lim[:, :2] - src[:, :2], axis=1).max()
    assert shift == pytest.approx(0.2 * float(tp.inter_ocular(src)), rel=1e-6)


def test_ring_covers_box_outside_oval(frame_and_points):
    _, src = frame_and_points
    anchors = anchor_points(src, (360, 640), WarpConfig())
    oval = src[list(tp.FACE_OVAL), :2]
    tri = ring_triangles(oval, anchors)
    pts = np.concatenate([oval, anchors])
    u, v = pts[tri[:, 1]] - pts[tri[:, 0]], pts[tri[:, 2]] - pts[tri[:, 0]]
    area = 0.5 * np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    box = np.prod(anchors.max(0) - anchors.min(0))
    x, y = oval[:, 0], oval[:, 1]
    oval_area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area.sum() == pytest.approx(box - oval_area, rel=0.02)


def test_fold_fraction_detects_flip(frame_and_points):
    _, src = frame_and_points
    mirrored = src.copy()
    mirrored[:, 0] = 2 * src[:, 0].mean() - src[:, 0]
    assert fold_fraction(mirrored, src) > 0.9


# errors
def test_bad_shapes(frame_and_points):
    frame, src = frame_and_points
    with pytest.raises(NedError):
        warp_face(frame, src[:10], src)
    with pytest.raises(NedError):
        warp_face(frame[..., 0], src, src)


# iris
def _surprised_geometry(video):
    from ned.editing import EditConfig, plan_clip

    return [(p.src.astype(np.float64), p.dst.astype(np.float64))
            for p in plan_clip(video, EditConfig.build(emotion="surprised")) if p.src is not None]


def _iris_stretch(src, dst, rigid):
    """Per eye: vertical and horizontal scale - 1 of the warp on the inner iris disc."""
    from ned.render import warp as W

    cfg = W.WarpConfig(rigid_iris=rigid)
    dst = W.limit_shift(src, dst, cfg.max_shift)
    a = W.anchor_points(src, (360, 640), cfg)
    x0, y0 = np.floor(np.maximum(a.min(0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(a.max(0) + 1, [640, 360])).astype(int)
    roi = (int(x0), int(y0), int(x1), int(y1))
    mx, my, _ = W._backward_map(src, dst, a, roi, max(1, round(max(x1 - x0, y1 - y0) / 240)))
    if rigid:
        W.rigid_iris(mx, my, src, dst, roi)
    gy, gx = np.gradient(my, axis=0), np.gradient(mx, axis=1)
    out = []
    for eye, iris in ((tp.LEFT_EYE, tp.LEFT_IRIS), (tp.RIGHT_EYE, tp.RIGHT_IRIS)):
        shift = (dst[list(eye), :2] - src[list(eye), :2]).mean(0)
        c = src[iris[0], :2] + shift
        r = 0.6 * np.linalg.norm(src[list(iris[1:]), :2] - src[iris[0], :2], axis=1).mean()
        yy, xx = np.mgrid[int(c[1] - r):int(c[1] + r) + 1, int(c[0] - r):int(c[0] + r) + 1]
        sel = ((xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= r * r)
        sel &= W.polygon_mask(dst[list(eye), :2] - (xx[0, 0], yy[0, 0]), sel.shape)
        out.append((1 / np.median(gy[yy - y0, xx - x0][sel]) - 1,
                    1 / np.median(gx[yy - y0, xx - x0][sel]) - 1))
    return np.array(out)


@pytest.mark.slow  # 3 s; the module's other tests stay in the fast tier
def test_iris_moves_rigidly_when_lids_open(single_face_path):
    """Surprised opens the lids by up to 1.5x: the iris is translated, not stretched."""
    geo = _surprised_geometry(single_face_path)[::3]
    opening = max(np.linalg.norm(d[159, :2] - d[145, :2]) / np.linalg.norm(s[159, :2] - s[145, :2])
                  for s, d in geo)
    stretched = np.array([_iris_stretch(s, d, False) for s, d in geo])
    rigid = np.array([_iris_stretch(s, d, True) for s, d in geo])
    print(f"lid opening up to x{opening:.2f}; vertical iris stretch: mesh warp mean "
          f"{stretched[..., 0].mean():.3f} max {stretched[..., 0].max():.3f}, rigid iris mean "
          f"{rigid[..., 0].mean():.3f}, median |.| {np.median(np.abs(rigid[..., 0])):.4f}")
    assert opening > 1.2 and stretched[..., 0].mean() > 0.15  # the plain mesh stretches it
    assert np.median(np.abs(rigid)) < 0.01 and np.abs(rigid[..., 0]).mean() < 0.03


def test_inside_polygon_known_answers():
    from ned.render.warp import _inside_polygon

    # a concave "U": the notch (x in 4..6, y in 4..10) is outside
    u = np.array([[0, 0], [10, 0], [10, 10], [6, 10], [6, 4], [4, 4], [4, 10], [0, 10]], float)
    pts = np.array([[2, 2], [8, 8], [5, 7], [5, 2], [11, 5], [-1, 5], [5, 11]], float)
    assert _inside_polygon(pts, u).tolist() == [True, True, False, True, False, False, False]


def test_still_teeth_keeps_the_mouth_interior_in_place(single_face_path, single_face_track):
    """Lips closing over a grin: inside both openings the map is the identity (the teeth
    are not squeezed); outside the mouth nothing changes."""
    from ned.io import read_frames
    from ned.render.warp import WarpConfig, warp_patch
    from ned.topology import LIPS_INNER

    image = next(read_frames(single_face_path, start=36, stop=37)).image
    src = single_face_track.landmarks[36].astype(np.float64)
    dst = src.copy()
    upper = [13, 82, 81, 80, 191, 312, 311, 310, 415]
    dst[upper, 1] += 4.0                                   # the upper lip comes down
    still, roi = warp_patch(image, src, dst, WarpConfig(still_teeth=True))
    squeezed, _ = warp_patch(image, src, dst, WarpConfig(still_teeth=False))
    x0, y0 = roi[:2]
    inner = dst[list(LIPS_INNER), :2]
    cx, cy = np.round(inner.mean(0) - (x0, y0)).astype(int)
    original = image[y0:y0 + still.shape[0], x0:x0 + still.shape[1]]
    # the mouth's centre shows the frame's own pixels with still teeth, others without
    assert np.abs(still[cy, cx - 5:cx + 5].astype(int) - original[cy, cx - 5:cx + 5]).max() <= 2
    assert np.abs(squeezed[cy - 3:cy + 3, cx - 8:cx + 8].astype(int)
                  - original[cy - 3:cy + 3, cx - 8:cx + 8]).mean() > 3
    far = np.abs(still.astype(int) - squeezed.astype(int)).sum(-1)
    assert far[:max(0, cy - 40)].max() == 0                # the rest of the face: same warp


def _jaw_dropped(src, drop):
    """The edit of a jaw dropped by ``drop`` pixels: the lower lip, the chin and the jaw
    line down, everything above the mouth's inner corners still."""
    dst = src.copy()
    below = src[:, 1] > src[[78, 308], 1].max() + 1.0
    dst[below, 1] += drop
    return dst


def test_jaw_drop_is_the_chins_opening_move_only(frame_and_points):
    from ned.render.warp import MIN_JAW_PX, jaw_drop

    _, src = frame_and_points
    np.testing.assert_array_equal(jaw_drop(src, src), 0.0)
    np.testing.assert_array_equal(jaw_drop(src, _jaw_dropped(src, -6.0)), 0.0)  # closing
    np.testing.assert_array_equal(jaw_drop(src, _jaw_dropped(src, 0.5 * MIN_JAW_PX)), 0.0)
    u = (src[152, :2] - src[13, :2]) / np.linalg.norm(src[152, :2] - src[13, :2])
    np.testing.assert_allclose(jaw_drop(src, _jaw_dropped(src, 6.0)), u * 6.0 * u[1],
                               atol=1e-9)


def test_jaw_drop_parts_the_teeth_no_more_than_the_lips(frame_and_points):
    """A chin dropped behind lips kept together (an edit that keeps the source's lip
    contact) parts nothing; lips parted by less than the chin's drop part the teeth by
    what the lips part."""
    from ned.render.warp import jaw_drop

    _, src = frame_and_points
    dropped = _jaw_dropped(src, 6.0)
    closed = dropped.copy()
    closed[14, :2] = src[14, :2]            # the lower lip's middle where it was
    np.testing.assert_array_equal(jaw_drop(src, closed), 0.0)
    part = dropped.copy()
    part[14, 1] = src[14, 1] + 3.0          # the lips part by 3 of the chin's 6 pixels
    u = (src[152, :2] - src[13, :2]) / np.linalg.norm(src[152, :2] - src[13, :2])
    np.testing.assert_allclose(jaw_drop(src, part), u * 3.0 * u[1], atol=1e-9)


def test_a_dropped_jaw_parts_the_teeth_and_shows_the_cavity(frame_and_points):
    """A grin (frame 30: teeth together between parted lips) with the jaw dropped 6 px:
    the upper teeth stay, the lower teeth come down with the jaw, and the interior cue
    paints the gap between them dark even though the bank holds an open mouth."""
    from ned.render.appearance import MouthBank
    from ned.render.warp import polygon_mask, teeth_parts, warp_patch

    image, src = frame_and_points
    dst = _jaw_dropped(src, 6.0)
    patch, roi = warp_patch(image, src, dst)
    x0, y0 = roi[:2]
    original = image[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]].astype(int)
    upper, lower, gap, jaw = teeth_parts(src, dst, (x0, y0), patch.shape[:2])
    assert jaw[1] > 5.0 and upper.sum() > 50 and lower.sum() > 50 and gap.sum() > 50
    assert not (upper & lower).any() and not (gap & (upper | lower)).any()
    p = patch.astype(int)
    # the upper teeth read the frame where they are, the lower ones from 6 px higher up
    assert np.abs(p[upper] - original[upper]).mean() < 2.0
    yy, xx = np.nonzero(lower)
    src_y = np.round(yy - jaw[1]).astype(int)
    src_x = np.round(xx - jaw[0]).astype(int)
    assert np.abs(p[yy, xx] - original[src_y, src_x]).mean() < 6.0
    assert np.abs(p[yy, xx] - original[yy, xx]).mean() > 10.0   # they did move
    # the cavity: dark between the teeth, also with an exemplar of open teeth in the bank
    bank = MouthBank()
    bank.observe(image, src)
    assert bank.crop is not None
    before = patch.copy()
    bank.fill(patch, image, src, dst, roi)
    inside = polygon_mask(dst[list(tp.LIPS_INNER), :2] - (x0, y0), patch.shape[:2])
    core = gap & inside
    assert core.sum() > 30
    assert patch[core].mean() < 0.6 * before[upper].mean()   # darker than the teeth
    # the split: the middle of the opening's height, slice by slice (a geometric rule that
    # holds still from frame to frame), here on an upright face: column by column
    opening = polygon_mask(src[list(tp.LIPS_INNER), :2] - (x0, y0), patch.shape[:2])
    rows = np.arange(patch.shape[0])[:, None]
    cols = np.flatnonzero(opening.sum(0) >= 6)
    cols = cols[len(cols) // 5: -len(cols) // 5]  # away from the corners
    top = np.where(opening, rows, 10**6).min(0)[cols]
    bottom = np.where(opening, rows, -1).max(0)[cols]
    split = np.where(upper, rows, -1).max(0)[cols]  # the upper teeth's last row
    assert np.abs(split + 0.5 - (top + bottom) / 2).mean() < 1.0
    # the gap's coverage: the band between the split and the split moved by the jaw,
    # anti-aliased (pixels its edges cross are partly covered), as wide as the drop
    _, _, cov, _ = teeth_parts(src, dst, (x0, y0), patch.shape[:2], coverage=True)
    assert cov.dtype == np.float32 and cov.min() >= 0.0 and cov.max() == 1.0
    edge = (cov > 0.05) & (cov < 0.95)
    assert edge.sum() > 0.5 * len(cols)           # the sloping edges: partial pixels
    assert (cov[gap] > 0.4).all()                 # the whole pixels of the gap are in it
    band = cov[:, cols].sum(0)                    # its height, column by column
    assert abs(float(np.median(band)) - jaw[1]) < 1.0
    # with a reach, each set of teeth extends that far under the gap's edges
    up_r, low_r, _, _ = teeth_parts(src, dst, (x0, y0), patch.shape[:2], reach=1.0)
    assert (up_r & ~upper).sum() > 0.5 * len(cols) and (low_r & ~lower).sum() > 0.5 * len(cols)
    assert not (up_r & ~upper & ~opening).any()
    # a closing edit (no jaw drop) keeps the whole interior still, as before
    closing = _jaw_dropped(src, -3.0)
    up2, low2, gap2, jaw2 = teeth_parts(src, closing, (x0, y0), patch.shape[:2])
    assert gap2 is None and not low2.any() and not jaw2.any()
    assert teeth_parts(src, closing, (x0, y0), patch.shape[:2], coverage=True)[2] is None


def _squeezing_maps(h: int = 40, w: int = 60, band: tuple[int, int] = (15, 20),
                    factor: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps that read rows band[0]..band[1] of the patch from a source band
    ``factor`` times taller (a strip of skin squeezed by a lowered brow); the identity
    elsewhere, shifted so the map stays continuous."""
    y = np.arange(h, dtype=np.float32)
    src_y = np.where(y < band[0], y, np.where(y < band[1], band[0] + factor * (y - band[0]),
                                               y + (factor - 1) * (band[1] - band[0])))
    mapy = np.repeat(src_y[:, None], w, 1).astype(np.float32)
    mapx = np.repeat(np.arange(w, dtype=np.float32)[None], h, 0)
    return mapx, mapy


def test_squeeze_weights_find_the_squeezed_band():
    from ned.render.warp import SQUEEZE_FROM, squeeze_weights

    mapx, mapy = _squeezing_maps()
    sq = squeeze_weights(mapx, mapy, (0, 0, 60, 40))
    x0, y0, x1, y1 = sq.box
    weight = np.zeros((40, 60), np.float32)
    weight[y0:y1, x0:x1] = sq.weight
    assert weight[16:19, 10:50].min() > 0.5          # inside the 8x band
    assert weight[:10].max() == 0 and weight[26:].max() == 0   # unsqueezed rows
    assert 0.7 <= sq.sigma <= 2.5
    # a map that squeezes less than SQUEEZE_FROM anywhere is left alone
    mapx, mapy = _squeezing_maps(factor=SQUEEZE_FROM * 0.9)
    assert squeeze_weights(mapx, mapy, (0, 0, 60, 40)) is None


def test_prefilter_removes_the_aliasing_of_a_squeezed_band():
    """A fine pattern squeezed 8x samples one source row in eight: unfiltered it keeps the
    pattern's full contrast as noise (a dotted line); prefiltered it reads the pattern's
    mean, and the rows that are not squeezed are not touched."""
    import cv2

    from ned.render.warp import prefilter_squeezed, squeeze_weights

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 60, 3), dtype=np.uint8)   # texture finer than 8 px
    mapx, mapy = _squeezing_maps()
    plain = cv2.remap(image, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    out = plain.copy()
    prefilter_squeezed(out, image, mapx, mapy, squeeze_weights(mapx, mapy, (0, 0, 60, 40)))
    band = slice(16, 19)
    assert plain[band].astype(float).std() > 60
    assert out[band].astype(float).std() < 0.4 * plain[band].astype(float).std()
    np.testing.assert_array_equal(out[:10], plain[:10])
    np.testing.assert_array_equal(out[30:], plain[30:])


def test_prefilter_keeps_pixels_whose_map_was_replaced():
    """A rigid iris or still teeth replace the map after the squeeze is measured: those
    pixels keep their own read."""
    import cv2

    from ned.render.warp import prefilter_squeezed, squeeze_weights

    image = np.random.default_rng(1).integers(0, 256, (200, 60, 3), dtype=np.uint8)
    mapx, mapy = _squeezing_maps()
    sq = squeeze_weights(mapx, mapy, (0, 0, 60, 40))
    mapx[15:20, 20:30] += 0.5     # replaced after the measurement
    plain = cv2.remap(image, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    out = plain.copy()
    prefilter_squeezed(out, image, mapx, mapy, sq)
    np.testing.assert_array_equal(out[15:20, 20:30], plain[15:20, 20:30])
    assert not np.array_equal(out[16:19, 40:50], plain[16:19, 40:50])


def test_warp_prefilter_switch(frame_and_points):
    """A frown squeezed into the lids changes pixels only where the map squeezes, and
    prefilter=False is the plain warp."""
    frame, src = frame_and_points
    dst = src.copy()
    brows = list(tp.LEFT_EYEBROW + tp.RIGHT_EYEBROW)
    dst[brows, 1] += 0.25 * tp.inter_ocular(src)
    on, _ = warp_face(frame, src, dst)
    off, _ = warp_face(frame, src, dst, WarpConfig(prefilter=False))
    changed = np.abs(on.astype(int) - off.astype(int)).max(2) > 0
    assert 0 < changed.sum() < 0.01 * changed.size
    ys = np.flatnonzero(changed.any(1))
    lids = src[list(tp.LEFT_EYE + tp.RIGHT_EYE), 1]
    assert ys.min() >= src[brows, 1].min() - 5 and ys.max() <= lids.max() + 5


def test_no_prefilter_where_the_map_is_coarse(frame_and_points):
    """A map computed on a coarser grid than the pixels (a large face) is not prefiltered:
    its squeezed strips are pixels tall, and the prefilter cost a 4K face 180 ms a frame."""
    from ned.render import warp as W

    frame, src = frame_and_points
    dst = src.copy()
    brows = list(tp.LEFT_EYEBROW + tp.RIGHT_EYEBROW)
    dst[brows, 1] += 0.25 * tp.inter_ocular(src)
    a = W.anchor_points(src, frame.shape[:2], WarpConfig())
    x0, y0 = np.floor(np.maximum(a.min(0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(a.max(0) + 1, [640, 360])).astype(int)
    roi = (int(x0), int(y0), int(x1), int(y1))
    assert W._backward_map(src, dst, a, roi, 1)[2] is not None
    assert W._backward_map(src, dst, a, roi, 2)[2] is None
