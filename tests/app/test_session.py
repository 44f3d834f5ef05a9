"""The app's logic without the web: the page's choices as one timeline, the batch command,
importing a file, and (slow) previews that match the full render."""

from __future__ import annotations

import numpy as np
import pytest

from ned.app.session import AppSession, Choices, command_line, imported_choices
from ned.editing.timeline import Keyframe, Segment, Timeline
from ned.errors import NedError


def test_choices_make_one_timeline():
    assert Choices().timeline() is None
    tl = Choices(emotion="happy", intensity=0.8, start=1.0, end=None,
                 segments="0-1:sad", controls={"smile": 0.0, "brow_lower": 0.3}).timeline()
    assert [(s.start, s.end, s.emotion, s.intensity) for s in tl.segments] == [
        (0.0, 1.0, "sad", 1.0), (1.0, None, "happy", 0.8)]
    assert tl.controls == (("brow_lower", 0.3),)
    with pytest.raises(NedError, match="overlap"):
        Choices(emotion="happy", segments="0-1:sad").timeline()


def test_import_keeps_the_file_whole(tmp_path):
    tl = Timeline((Segment(0, 1, "sad", controls=(("frown", 0.4),)),),
                  (Keyframe(0.5, (("smile", 0.2),)),), (("squint", 0.3),))
    path = tl.save(tmp_path / "t.json")
    c = imported_choices(path)
    assert c.controls == {"squint": 0.3} and c.timeline() == tl
    only = Timeline(controls=(("smile", 0.5),)).save(tmp_path / "c.json")
    assert imported_choices(only).timeline() == Timeline(controls=(("smile", 0.5),))


def test_command_line():
    assert command_line("clip.mp4", "timeline.json", 0, 0, None) == (
        "ned edit clip.mp4 --timeline timeline.json -o clip_edited.mp4 --crf 0")
    assert "--face-index 1" in command_line("c.mp4", "t.json", 1, 16, "AI edit")
    assert "--mark 'AI edit'" in command_line("c.mp4", "t.json", 1, 16, "AI edit")


def test_session_needs_a_clip(tmp_path):
    s = AppSession(tmp_path)
    with pytest.raises(NedError, match="open a clip"):
        s.preview(None, 0.0)
    with pytest.raises(NedError, match="open a clip"):
        s.select_face(0)


@pytest.mark.slow
def test_preview_matches_the_render(tmp_path, single_face_path):
    from ned.io import read_frames

    s = AppSession(tmp_path)
    s.open(single_face_path)
    with pytest.raises(NedError, match="face 3 is not there: the clip shows 1 face"):
        s.select_face(3)
    tl = Timeline((Segment(0, 1.2, "happy"), Segment(1.2, None, "sad")),
                  controls=(("brow_lower", 0.4),))
    src, edited, ms = s.preview(tl, 1.8)
    assert src.shape == edited.shape and ms > 0
    assert np.abs(edited.astype(int) - src).mean() > 0.3
    out = s.render(tl, crf=0, progress=False)
    full = [f.image for f in read_frames(out)][s.frame_at(1.8)]
    # the same plan and warp; only the occluders and the mouth exemplar may differ
    assert np.abs(edited.astype(int) - full).mean() < 0.5
    img = s.timeline_image(tl, 1.8)
    assert img.ndim == 3 and img.shape[1] == 800
    assert s.export(tl).read_text().startswith("{")
    s.close()
