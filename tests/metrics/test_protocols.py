"""Protocols: table layout and files on a stand-in edit (a copy: known answers), and the
real edit pipeline when its default manipulator is installed."""

from __future__ import annotations

import json
import shutil

import pytest

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import protocols
from ned.metrics.evaluate import EvalConfig

FAST = EvalConfig(identity=False)


@pytest.fixture
def copy_edit(monkeypatch):
    """Replace the pipeline by a copy of the input (a perfect self-translation)."""
    calls = []

    def fake(clip, out, **kwargs):
        calls.append(kwargs)
        shutil.copyfile(clip, out)

    monkeypatch.setattr(protocols, "edit", fake)
    return calls


def test_clip_parse(clips, tmp_path):
    c = protocols.Clip.parse(f"{clips['source']}:happy")
    assert c.label == "happy" and c.path == clips["source"]
    assert protocols.Clip.parse(str(clips["source"])).label is None
    with pytest.raises(NedError, match="no such clip"):
        protocols.Clip.parse(str(tmp_path / "missing.mp4:sad"))


def test_self_translation_of_a_copy_is_zero(clips, tmp_path, copy_edit):
    clip = protocols.Clip(clips["source"], "happy")
    res = protocols.self_translation([clip], tmp_path / "st", config=FAST)
    assert copy_edit[0]["reference"] == clips["source"]
    assert res["header"] == ["emotion", "clips", "APD", "FAPD", "MAPD", "FID"]
    happy = res["rows"][0]
    assert happy[0] == "happy" and happy[1] == 1 and happy[2:5] == [0.0, 0.0, 0.0]
    for name in ("table.csv", "table.json", "table.md", "chart.png"):
        assert (tmp_path / "st" / name).stat().st_size > 0
    assert json.loads((tmp_path / "st" / "table.json").read_text())["rows"][-1][0] == "avg. (1)"
    slim = res["clips"][0]["report"]  # the report's JSON without per-frame series and config
    assert list(slim) == ["source", "edited", "frames", "width", "height", "fps", "target",
                          "valid_frames", "pixel", "identity", "speech", "temporal", "emotion",
                          "expression", "timing"]
    assert slim["pixel"]["apd"] == 0.0 and slim["identity"] is None
    assert slim["expression"] is None  # self-translation has no target


@pytest.mark.slow
def test_emotions_protocol_layout(clips, tmp_path, copy_edit):
    res = protocols.emotions([protocols.Clip(clips["source"])], tmp_path / "em", config=FAST)
    assert [c["emotion"] for c in copy_edit] == list(EMOTIONS)
    assert [r[0] for r in res["rows"]] == [*EMOTIONS, "avg."]
    counts = res["confusion"]["counts"]
    assert len(counts) == 7 and all(sum(r) == 24 for r in counts)
    # a copy shows the source's emotion: accuracy equals the source's own
    for row in res["rows"][:-1]:
        assert row[2] == row[3] and row[5] == 1.0 and row[6] == 1.0
    assert (tmp_path / "em" / "chart.png").stat().st_size > 0


@pytest.mark.slow
def test_self_translation_with_the_pipeline(clips, tmp_path):
    res = protocols.self_translation([protocols.Clip(clips["source"], "neutral")],
                                     tmp_path / "st", config=FAST)
    row = res["rows"][0]
    assert row[0] == "neutral" and 0 < row[3] < 40  # FAPD: close to, not equal to, source
