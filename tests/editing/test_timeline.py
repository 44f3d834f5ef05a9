"""Timelines: the file format (versioned), the short form, and their curves: ramps,
cross-fades, keyframes, and never an interpolation across a shot cut."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ned.editing.controls import NAMES
from ned.editing.timeline import (
    FORMAT,
    VERSION,
    Keyframe,
    Segment,
    Timeline,
    parse_segments,
)
from ned.errors import NedError

T = np.arange(0, 6, 1 / 30)   # 6 s at 30 fps


def _col(name):
    return NAMES.index(name)


def test_short_form():
    tl = parse_segments("0-2.5:happy,2.5-6:sad@0.6, 6-:angry")
    assert [(s.start, s.end, s.emotion, s.intensity) for s in tl.segments] == [
        (0, 2.5, "happy", 1.0), (2.5, 6, "sad", 0.6), (6, None, "angry", 1.0)]
    assert tl.summary() == "0-2.5:happy; 2.5-6:sad@0.6; 6-:angry"


@pytest.mark.parametrize("text, message", [
    ("0-2:grumpy", "unknown emotion"), ("2-1:happy", "ends before it starts"),
    ("0-2", "start-end:emotion"), ("a-2:happy", "not a number"),
    ("0-3:happy,2-4:sad", "overlap"), ("", "no segment"), ("0-2:happy@2", "outside"),
])
def test_bad_short_form(text, message):
    with pytest.raises(NedError, match=message):
        parse_segments(text)


def test_file_round_trip(tmp_path):
    tl = Timeline((Segment(0, 2.5, "happy"), Segment(2.5, None, "sad", 0.6,
                                                     (("brow_lower", -0.3),), ramp=0.5)),
                  (Keyframe(0.5, (("smile", 0.0),)), Keyframe(1.5, {"smile": 0.8}, "linear")),
                  (("squint", 0.2),))
    path = tl.save(tmp_path / "edits.json")
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["version"] == VERSION
    assert Timeline.load(path) == tl
    assert Timeline.from_json(tl.to_json()) == tl


@pytest.mark.parametrize("change, message", [
    ({"format": "other"}, "not a ned timeline"),
    ({"version": 99}, "schema version 99"),
    ({"extra": 1}, "unknown field"),
    ({"segments": [{"start": 0, "emotion": "happy", "colour": "red"}]}, "unknown segment"),
    ({"keyframes": [{"time": 1}]}, "lacks controls"),
    ({"keyframes": [{"time": 1, "controls": {"smile": 3}}]}, "outside"),
    ({"keyframes": [{"time": 1, "controls": {"smile": 1}, "easing": "bounce"}]}, "easing"),
    ({"segments": [{"start": -1, "emotion": "happy"}]}, ">= 0"),
    ({"segments": [{"start": 0}]}, "neither an emotion nor controls"),
])
def test_bad_files_are_one_line(tmp_path, change, message):
    data = {"format": FORMAT, "version": VERSION,
            "segments": [{"start": 0, "emotion": "happy"}], **change}
    p = tmp_path / "t.json"
    p.write_text(json.dumps(data))
    with pytest.raises(NedError, match=message):
        Timeline.load(p)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(NedError, match="no such timeline"):
        Timeline.load(tmp_path / "none.json")
    (tmp_path / "b.json").write_text("{")
    with pytest.raises(NedError, match="not valid JSON"):
        Timeline.load(tmp_path / "b.json")
    with pytest.raises(NedError, match="folder"):
        Timeline.load(tmp_path)


def test_segments_cross_fade_and_ramp():
    tl = parse_segments("0-2.5:happy,2.5-4:sad@0.6")
    c = tl.evaluate(T, [], 6.0)
    assert c.targets == (("happy", 1.0), ("sad", 0.6))
    w = c.weights
    assert w[0, 0] == 1 and w[0, 1] == 0                   # the clip's start: no ramp
    at = np.searchsorted(T, 2.5)
    assert w[at, 0] == pytest.approx(0.5, abs=0.03) and w[at, 1] == pytest.approx(0.5, abs=0.03)
    assert np.allclose(w[:at + 20].sum(1), 1, atol=1e-6)   # a cross-fade sums to one
    assert w[np.searchsorted(T, 3.8), 1] < 1               # a free end ramps out inside
    assert not w[np.searchsorted(T, 4.0):].any()
    assert np.all(np.abs(np.diff(w, axis=0)) < 0.2)        # smooth
    assert not c.active[np.searchsorted(T, 4.1)]


def test_keyframes_interpolate_and_hold():
    tl = Timeline(keyframes=(Keyframe(1, (("smile", 0.0),)), Keyframe(2, (("smile", 0.8),)),
                             Keyframe(3, (("smile", 0.8), ("brow_lower", 0.5)), "hold")))
    c = tl.evaluate(T, [], 6.0).controls
    smile = c[:, _col("smile")]
    assert smile[0] == 0 and smile[-1] == pytest.approx(0.8)
    assert smile[np.searchsorted(T, 1.5)] == pytest.approx(0.4, abs=0.02)
    assert np.all(np.diff(smile) >= -1e-7)
    brow = c[:, _col("brow_lower")]
    assert np.allclose(brow, 0.5)                          # one keyframe: held everywhere


def test_nothing_crosses_a_cut():
    cut = int(np.searchsorted(T, 1.5))
    tl = Timeline((Segment(0, 1.5, "happy"), Segment(1.5, None, "sad")),
                  (Keyframe(1, (("smile", 0.0),)), Keyframe(2, (("smile", 1.0),))))
    c = tl.evaluate(T, [cut], 6.0)
    w, smile = c.weights, c.controls[:, _col("smile")]
    assert np.all(w[:cut, 0] == 1) and np.all(w[:cut, 1] == 0)
    assert np.all(w[cut:, 0] == 0) and np.all(w[cut:, 1] == 1)
    assert np.all(smile[:cut] == 0) and np.all(smile[cut:] == 1)
    # without the cut, both ramp
    c = tl.evaluate(T, [], 6.0)
    assert 0 < c.weights[cut - 2, 0] < 1 and 0 < c.controls[cut, _col("smile")] < 1


def test_with_controls_adds_and_clips():
    tl = parse_segments("0-1:happy").with_controls((("smile", 0.5),))
    assert tl.controls == (("smile", 0.5),)
    assert tl.with_controls((("smile", 0.9),)).controls == (("smile", 1.0),)
    c = tl.evaluate(T, [], 6.0)
    assert np.allclose(c.controls[:, _col("smile")], 0.5)
