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
