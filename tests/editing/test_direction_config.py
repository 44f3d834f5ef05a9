"""EditConfig with controls and timelines: validated on construction, one-line errors,
the CLI's --adjust / --timeline / --segments / --mark."""

from __future__ import annotations

import pytest

from ned.cli import main
from ned.editing.config import EditConfig
from ned.editing.run import provenance
from ned.editing.timeline import Timeline, parse_segments
from ned.errors import NedError


def test_controls_alone_or_on_an_emotion():
    cfg = EditConfig.build(adjust={"smile": 0.5, "brow_lower": 0.3})
    assert cfg.target.adjust == (("brow_lower", 0.3), ("smile", 0.5))
    assert cfg.target.directed and not cfg.target.gaze
    assert EditConfig.build(emotion="sad", adjust={"gaze_left": 0.5}).target.gaze
    assert not EditConfig.build(emotion="sad").target.directed
    assert cfg.replace(adjust={"smile": 0.2}).target.adjust == (("smile", 0.2),)
    assert cfg.with_overrides({"adjust": {"smile": 0.5, "brow_lower": 0.3}}) is cfg


def test_timeline_from_file_or_object(tmp_path):
    tl = parse_segments("0-1:happy,1-2:sad")
    path = tl.save(tmp_path / "t.json")
    assert EditConfig.build(timeline=path).target.timeline == tl
    assert EditConfig.build(timeline=tl.to_json()).target.timeline == tl
    cfg = EditConfig.build(timeline=tl, intensity=0.5)
    assert "timeline 0-1:happy; 1-2:sad (intensities x0.5)" in cfg.target.describe()


@pytest.mark.parametrize("options, message", [
    ({}, "exactly one of"),
    ({"emotion": "happy", "timeline": parse_segments("0-1:sad")}, "not both"),
    ({"adjust": {"grin": 1}}, "unknown control"),
    ({"emotion": "happy", "adjust": {"smile": 1.5}}, "outside"),
    ({"timeline": 3}, "timeline must be"),
])
def test_bad_direction_options(options, message):
    with pytest.raises(NedError, match=message):
        EditConfig.build(**options)


def test_provenance_names_tool_version_and_edit():
    cfg = EditConfig.build(emotion="happy", intensity=0.6, adjust={"smile": 0.5}, start=1.0)
    stamp = provenance(cfg, "AI-edited (ned)")
    line = stamp.metadata["comment"]
    assert line.startswith("Edited with ned 0.1.0")
    assert "emotion happy at intensity 0.6" in line and "smile=0.5" in line
    assert "from 1 s" in line and stamp.mark == "AI-edited (ned)"
    assert '"controls": {"smile": 0.5}' in stamp.metadata["description"]


@pytest.mark.parametrize("args, message", [
    (["--adjust", "grin=1"], "unknown control"),
    (["--adjust", "smile"], "name=value"),
    (["--segments", "0-1:grumpy"], "unknown emotion"),
    (["--timeline", "missing.json"], "no such timeline"),
    ([], "exactly one of"),
])
def test_cli_direction_errors(tmp_path, capsys, single_face_path, args, message):
    out = tmp_path / "o.mp4"
    code = main(["edit", str(single_face_path), "-o", str(out), "-q", *args])
    err = capsys.readouterr().err
    assert code == 1 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_timeline_and_segments_exclusive(tmp_path, single_face_path):
    with pytest.raises(SystemExit):
        main(["edit", str(single_face_path), "-o", str(tmp_path / "o.mp4"),
              "--segments", "0-1:happy", "--emotion", "sad"])
    assert isinstance(Timeline.load(parse_segments("0-1:sad").save(tmp_path / "x.json")),
                      Timeline)
