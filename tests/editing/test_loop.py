"""The edit loop and its renderers: any FrameRenderer behind one interface, reset at cuts and
gaps, the report counted from the plans; the warp renderer on a real frame."""

from __future__ import annotations

import numpy as np
import pytest

from ned.editing.config import Limit, PassReason, RenderConfig
from ned.editing.loop import annotate, render_clip
from ned.editing.plan import FramePlan
from ned.editing.protocol import RenderResult
from ned.editing.renderers import WarpRenderer, make_renderer
from ned.errors import NedError
from ned.io import probe, read_frames

POINTS = np.zeros((478, 3), np.float32)


class Recorder:
    """A renderer that paints a 4x4 box white and records the calls."""

    single_thread = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def warm_up(self) -> None:
        self.calls.append(("warm_up", -1))

    def reset(self) -> None:
        self.calls.append(("reset", -1))

    def render(self, image: np.ndarray, plan: FramePlan) -> RenderResult:
        self.calls.append(("render", plan.index))
        out = image.copy()
        out[:4, :4] = 255
        return RenderResult(out, (0, 0, 4, 4), occluded=plan.index == 2)

    def close(self) -> None:
        self.calls.append(("close", -1))


def _plans(n: int) -> list[FramePlan]:
    """Frame 0 has no face, 1-3 edited (2 occluded, 3 shrunk), 4 passed (pose), 5 a cut,
    6 edited, the rest no plan at all (copied)."""
    plans = [FramePlan(0, None, None, 0.0, PassReason.NO_FACE)]
    for i in (1, 2, 3):
        plans.append(FramePlan(i, POINTS, POINTS, 1.0, None, reached=0.5 if i == 3 else 1.0,
                               limits=(Limit.FOLDS,) if i == 3 else ()))
    plans.append(FramePlan(4, POINTS, POINTS, 0.0, PassReason.POSE))
    plans.append(FramePlan(5, POINTS, POINTS, 0.5, None, cut=True, reached=0.5,
                           limits=(Limit.RAMP,)))
    plans.append(FramePlan(6, POINTS, POINTS, 1.0, None, reached=1.0))
    return plans[:n]


def test_loop_drives_any_renderer(tiny_video, tmp_path):
    rec = Recorder()
    out = tmp_path / "out.mp4"
    rep = render_clip(tiny_video, out, iter(_plans(7)), rec, crf=0,
                      preview=tmp_path / "pv.mp4")
    assert rep.frames == 10 and rep.edited == 5 and rep.occluded == 1 and rep.unfolded == 1
    assert rep.passed[PassReason.NO_FACE] == 4 and rep.passed[PassReason.POSE] == 1
    assert rep.reached == [0.0, 1.0, 1.0, 0.5, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0]
    assert rep.limited[Limit.FOLDS] == 1 and rep.limited[Limit.RAMP] == 1
    assert rep.reached_mean == pytest.approx(0.8)
    assert "target reached 80%" in rep.summary() and "folds 1" in rep.summary()
    # reset before the first run, after the passed frame 4 (frame 5 is also a cut)
    assert rec.calls == [("warm_up", -1), ("reset", -1), ("render", 1), ("render", 2),
                         ("render", 3), ("reset", -1), ("render", 5), ("render", 6),
                         ("close", -1)]
    frames = [f.image for f in read_frames(out)]
    src = [f.image for f in read_frames(tiny_video)]
    assert len(frames) == 10 and probe(out).fps == probe(tiny_video).fps
    for i, (a, b) in enumerate(zip(frames, src)):
        painted = i in (1, 2, 3, 5, 6)
        assert (a[:4, :4] > 200).all() == painted
        assert np.array_equal(a[8:, 8:], b[8:, 8:])  # lossless outside the changed box
    assert probe(tmp_path / "pv.mp4").width == 2 * probe(tiny_video).width


def test_plan_for_the_wrong_frame_aborts_without_output(tiny_video, tmp_path):
    out = tmp_path / "out.mp4"
    plans = iter([FramePlan(1, None, None, 0.0, PassReason.NO_FACE)])
    with pytest.raises(RuntimeError, match="plan for frame 1 given for frame 0"):
        render_clip(tiny_video, out, plans, Recorder(), crf=16)
    assert not out.exists() and not any(p.name.startswith(".") for p in tmp_path.iterdir())


@pytest.fixture(scope="module")
def frame_and_points(single_face_path, single_face_track):
    image = next(read_frames(single_face_path, start=10, stop=11)).image
    return image, single_face_track.landmarks[10].astype(np.float32)


def test_warp_renderer_zero_edit_keeps_the_frame(frame_and_points):
    image, src = frame_and_points
    r = WarpRenderer(RenderConfig(occlusion=False))
    r.warm_up()
    res = r.render(image, FramePlan(10, src, src.copy(), 1.0, None))
    assert res.image.shape == image.shape and res.image.dtype == np.uint8
    assert np.abs(res.image.astype(int) - image.astype(int)).max() <= 1
    r.close()


def test_warp_renderer_changes_only_its_box(frame_and_points):
    image, src = frame_and_points
    dst = src.copy()
    dst[:, 1] -= 3.0 * (np.arange(478) % 2)  # every other point 3 px up
    r = WarpRenderer(RenderConfig())
    res = r.render(image, FramePlan(10, src, dst, 1.0, None))
    x0, y0, x1, y1 = res.roi
    assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
    diff = np.abs(res.image.astype(int) - image.astype(int)).sum(-1)
    assert diff[y0:y1, x0:x1].max() > 20 and diff.sum() == diff[y0:y1, x0:x1].sum()
    assert not res.occluded
    r.close()


def test_warp_renderer_keeps_what_the_analysis_found_covered(frame_and_points):
    """Pixels under (and within the edit's reach of) a hand the analysis found keep the
    source; the rest of the face is edited."""
    from ned.analysis.stream import RowChunk
    from ned.composite.occlusion import TrackOcclusion

    image, src = frame_and_points
    dst = src.copy()
    dst[:, 1] -= 3.0 * (np.arange(478) % 2)
    lo, hi = src[:, :2].min(0), src[:, :2].max(0)
    centre = (lo + hi) / 2
    t = np.linspace(0, 2 * np.pi, 21, endpoint=False)
    hands = np.full((1, 4, 21, 2), np.nan, np.float32)
    hands[0, 0] = centre + 0.3 * (hi - lo).max() * np.stack([np.cos(t), np.sin(t)], 1)
    chunk = RowChunk(10, np.ones(1, bool), src[None], np.zeros((1, 52), np.float32),
                     np.eye(4, dtype=np.float32)[None], np.zeros(1), np.zeros(1, bool),
                     np.zeros((1, 1152), np.uint8), hands)
    occlusion = TrackOcclusion()
    list(occlusion.tap([chunk]))
    r = make_renderer(RenderConfig(), occlusion=occlusion)
    res = r.render(image, FramePlan(10, src, dst, 1.0, None))
    cx, cy = centre.astype(int)
    diff = np.abs(res.image.astype(int) - image.astype(int)).sum(-1)
    assert res.occluded and diff[cy - 10:cy + 10, cx - 10:cx + 10].max() == 0
    x0, y0, x1, y1 = res.roi
    assert diff[y0:y1, x0:x1].max() > 20
    again = r.render(image, FramePlan(11, src, dst, 1.0, None))  # no row: nothing kept
    assert not again.occluded
    r.close()


def test_make_renderer_picks_by_config(tmp_path):
    assert isinstance(make_renderer(RenderConfig(occlusion=False)), WarpRenderer)
    with pytest.raises(NedError, match="no such renderer file"):
        make_renderer(RenderConfig(renderer=str(tmp_path / "none.safetensors")))


def test_preview_annotation_draws_the_reached_share():
    image = np.full((120, 200, 3), 128, np.uint8)
    half = annotate(image, FramePlan(0, POINTS, POINTS, 1.0, None, reached=0.5,
                                     limits=(Limit.FOLDS,)))
    full = annotate(image, FramePlan(0, POINTS, POINTS, 1.0, None, reached=1.0))
    assert half.shape == image.shape and np.array_equal(image, np.full_like(image, 128))
    bar = half[-1]
    assert (bar[:90] != bar[-1]).any(axis=1).all()       # the bar covers half the width
    assert not np.array_equal(half[-1], full[-1])
    passed = annotate(image, FramePlan(0, None, None, 0.0, PassReason.NO_FACE))
    assert passed[-1, 0, 0] == passed[-1, 0, 1] == passed[-1, 0, 2]   # grey: passed


def test_face_crop_box_holds_whole_chroma_rows(single_face_track):
    from ned.editing.loop import face_crop_box

    src = single_face_track.landmarks[10]
    for size in ((640, 360), (300, 200)):
        x0, y0, x1, y1 = face_crop_box(src, size)
        assert x0 % 2 == 0 and y0 % 4 == 0 and x1 % 2 == 0 and (y1 % 4 == 0 or y1 == size[1])
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
    lo, hi = src[:, :2].min(0), src[:, :2].max(0)
    x0, y0, x1, y1 = face_crop_box(src, (640, 360))
    assert x0 <= lo[0] - (hi - lo)[0] / 2 and x1 >= min(640, hi[0] + (hi - lo)[0] / 2)


def test_large_frames_render_on_the_face_crop(single_face_path, single_face_track, tmp_path,
                                              monkeypatch):
    """The crop path (planes kept, only the face's crop in RGB) writes what the whole-frame
    path writes: the same pixels outside the changed box (lossless), within the two
    colour conversions' rounding inside it."""
    import ned.editing.loop as loop

    n = 12
    plans = []
    for i in range(n):
        src = single_face_track.landmarks[i].astype(np.float32)
        dst = src.copy()
        dst[:, 1] -= 3.0 * (np.arange(478) % 2)
        plans.append(FramePlan(i, src, dst, 1.0, None) if i != 5
                     else FramePlan(i, None, None, 0.0, PassReason.NO_FACE))
    clip = tmp_path / "short.mp4"
    from ned.io import VideoWriter

    with VideoWriter(clip, like=single_face_path, crf=12) as w:
        for f in read_frames(single_face_path, stop=n):
            w.write(f.image, f.pts)
    outs = {}
    writers = []   # large frames: x264's lookahead 5 and no B-pyramid

    class Recorded(loop.VideoWriter):
        def __init__(self, *args, **kwargs) -> None:
            writers.append((kwargs.get("lookahead"), kwargs.get("b_pyramid", True)))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(loop, "VideoWriter", Recorded)
    for mode in ("whole", "crop"):
        monkeypatch.setattr(loop, "LARGE_FRAME", 10**9 if mode == "whole" else 0)
        r = WarpRenderer(RenderConfig(occlusion=False))
        rep = render_clip(clip, tmp_path / f"{mode}.mp4", iter(plans), r, crf=0)
        assert rep.edited == n - 1
        outs[mode] = [f.image.astype(int) for f in read_frames(tmp_path / f"{mode}.mp4")]
    src = [f.image.astype(int) for f in read_frames(clip)]
    for i, (a, b) in enumerate(zip(outs["whole"], outs["crop"])):
        d = np.abs(a - b).max(-1)
        changed = np.abs(a - src[i]).max(-1) > 0
        assert d.mean() < 0.5 and d[~changed].max() <= 8, i   # chroma of the box's edge
        if i == 5:
            assert np.array_equal(b, src[i])
    assert writers == [(None, True), (loop.LARGE_LOOKAHEAD, False)]


def test_large_faces_render_scaled_close_to_the_full_render(frame_and_points):
    """A face three times the sample's (a 1080p close-up) through render_scaled: the mask
    and the creases at half its resolution change the edited frame by a fraction of a grey
    level on average."""
    import cv2

    from ned.editing.renderers import render_scaled, warp_frame
    from ned.render.appearance import AppearanceConfig

    image, src = frame_and_points
    big = cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    src = src * np.float32(3)
    src[:, :2] += 1.0  # the resize's pixel centres
    dst = src.copy()
    dst[:, 1] -= 9.0 * (np.arange(478) % 2)
    cues = AppearanceConfig(creases=True, interior=False, eyes=True)
    kw = dict(grow=0.06, feather=0.12, levels=4, appearance=cues)
    full = warp_frame(big, src, dst, **kw)
    scaled = render_scaled(big, src, dst, scale=0.5, **kw)
    x0, y0, x1, y1 = full.roi
    assert scaled.roi == full.roi
    diff = np.abs(full.image.astype(int) - scaled.image.astype(int))[y0:y1, x0:x1]
    moved = np.abs(full.image.astype(int) - big.astype(int))[y0:y1, x0:x1]
    assert diff.mean() < 0.1 * moved.mean() and np.percentile(diff, 99) <= 6
    assert np.array_equal(scaled.image[:y0], big[:y0])
