"""Issue 18's acceptance, re-measured by the analyser on edited frames of the bundled
clips (:mod:`ned.metrics.direction`): every control moves its channel in its direction
and keeps the lips' motion; a timeline of three segments and two keyframed controls is
followed, and nothing is interpolated across a shot cut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ned.editing.config import EditConfig
from ned.editing.controls import NAMES
from ned.editing.preview import Previewer
from ned.editing.run import _one_thread
from ned.editing.timeline import Keyframe, Segment, Timeline
from ned.io import VideoWriter, read_frames
from ned.metrics.direction import MEASURES, remeasure

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("clip", ["single_face_path", "carphone_path"])
def test_every_control_moves_its_channel_and_keeps_the_speech(clip, request):
    pv = Previewer(request.getfixturevalue(clip))
    frames = np.flatnonzero(pv.valid)[::3]
    rows = []
    with _one_thread():
        for name in NAMES:
            for value in ((1.0, -1.0) if clip == "single_face_path" else (1.0,)):
                r = remeasure(pv, EditConfig.build(adjust={name: value}), frames)
                change, lip = r.change(name), r.lip_r()
                rows.append((name, value, change, lip))
                assert np.sign(change) == np.sign(value), (name, value, change)
                assert lip >= 0.95, (name, value, lip)
    pv.close()
    print()
    for name, value, change, lip in rows:
        print(f"{clip[:-5]} {name}={value:+g}: {MEASURES[name][1]} {change:+.3f}, "
              f"lip r {lip:.3f}")


@pytest.fixture(scope="module")
def one_person_two_shots(tmp_path_factory, single_face_path):
    """single_face.mp4, then the same frames smaller on a green wall: a cut at frame 72,
    the same person on both sides."""
    a = [f.image for f in read_frames(single_face_path)]
    b = []
    for img in a:
        canvas = np.zeros_like(img)
        canvas[:] = (40, 160, 60)
        small = cv2.resize(img, (448, 252))
        canvas[54:306, 96:544] = small
        b.append(canvas)
    path = tmp_path_factory.mktemp("shots") / "one_person_two_shots.mp4"
    with VideoWriter(path, fps=30, size=(640, 360)) as w:
        for f in a + b:
            w.write(f)
    return path


def test_timeline_is_followed_and_never_crosses_a_cut(one_person_two_shots, tmp_path):
    import ned

    tl = Timeline(
        (Segment(0, 1.6, "happy"), Segment(1.6, 3.4, "angry"), Segment(3.4, None, "sad")),
        (Keyframe(0.2, (("gaze_right", 0.0),)), Keyframe(1.2, (("gaze_right", 1.0),)),
         Keyframe(3.0, (("gaze_right", 1.0), ("brow_raise_outer", 1.0))),
         Keyframe(3.6, (("gaze_right", -1.0), ("brow_raise_outer", 0.0)), "linear")))
    pv = Previewer(one_person_two_shots)
    assert list(pv.cuts) == [72]
    cfg = EditConfig.build(timeline=tl)
    curves = tl.evaluate(pv.times, list(pv.cuts), pv.info.duration)
    gaze = curves.controls[:, NAMES.index("gaze_right")]
    brow = curves.controls[:, NAMES.index("brow_raise_outer")]
    # nothing crosses the cut at 2.4 s: the keyframes 1.2 -> 3.0 (gaze 1 -> 1) and the
    # held brow (1 from 3.0 s: before the cut it is the first keyframe's value, held)
    assert brow[71] == brow[0] == 1.0 and brow[72] == 1.0
    frames = np.flatnonzero(pv.valid)
    with _one_thread():
        r = remeasure(pv, cfg, frames)
    ok = ~(np.isnan(r.source_lm).any((1, 2)) | np.isnan(r.edited_lm).any((1, 2)))
    from ned.metrics.direction import gaze as gaze_of

    measured = gaze_of(r.edited_lm, "right") - gaze_of(r.source_lm, "right")
    follow = np.corrcoef(measured[ok], gaze[frames][ok])[0, 1]
    # the speech: the lips' motion is the source's in every segment; the posture changes
    # where the emotion does (happy's parted lips close for angry), which the whole clip's
    # raw correlation counts against it; the posture follows a change of emotion over the
    # lips' envelope's reach (``geometry.envelope_reach``: about 0.4 s at 1.6 s)
    t = pv.times[frames]
    steady = [(0.2, 1.4), (2.0, 2.35), (2.45, 3.2), (3.7, 4.8)]
    per_segment = [r.lip_r((t > a) & (t < b)) for a, b in steady]
    print(f"\nre-measured gaze follows its keyframes: r = {follow:.3f}; lip r per segment "
          f"{', '.join(f'{x:.3f}' for x in per_segment)}, over the whole clip "
          f"{r.lip_r():.3f} (happy's parted lips closing for angry at 1.6 s)")
    assert follow >= 0.9 and min(per_segment) >= 0.95
    # the segments: happy smiles, angry lowers the brows (the inner ends), sad does neither
    from ned.facegeom import geometric_changes
    from ned.facs import group_indices

    smile = group_indices("mouthSmile")
    level = (r.edited_bs[:, smile] - r.source_bs[:, smile]).mean(1)
    brow_down = geometric_changes(r.source_lm[ok], r.edited_lm[ok])["inner_brow_down"]
    t = pv.times[frames][ok]
    happy, angry = (t > 0.2) & (t < 1.4), (t > 1.8) & (t < 2.3)
    print(f"smile change in happy {level[ok][happy].mean():+.3f}, in angry "
          f"{level[ok][angry].mean():+.3f}; inner brows lowered in angry "
          f"{brow_down[angry].mean():+.3f} IOD, in happy {brow_down[happy].mean():+.3f}")
    assert level[ok][happy].mean() > level[ok][angry].mean()
    assert brow_down[angry].mean() > brow_down[happy].mean() + 0.02
    # and the whole clip renders: every face frame edited, the second shot too
    out = tmp_path / "timeline.mp4"
    rep = ned.edit(one_person_two_shots, out, timeline=tl, crf=0)
    assert rep.frames == 144 and rep.edited >= 0.95 * pv.valid.sum()
    pv.close()
