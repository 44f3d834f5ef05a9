"""Every output of an edit says it was edited (container metadata naming ned, its version
and the edit), and --mark draws a visible mark on every frame."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from ned.cli import main
from ned.io import read_frames
from ned.io.stamp import mark_box

pytestmark = pytest.mark.slow


def _meta(path):
    return {k.lower(): v for k, v in av.open(str(path)).metadata.items()}


def test_outputs_carry_the_edit_and_the_mark(single_face_path, tmp_path):
    plain, marked = tmp_path / "plain.mp4", tmp_path / "marked.mkv"
    assert main(["edit", str(single_face_path), "--emotion", "happy", "--adjust",
                 "brow_lower=0.3", "--crf", "0", "-o", str(plain), "--preview", "-q"]) == 0
    assert main(["edit", str(single_face_path), "--emotion", "happy", "--adjust",
                 "brow_lower=0.3", "--crf", "0", "-o", str(marked), "--mark", "-q"]) == 0
    for path in (plain, tmp_path / "plain_preview.mp4", marked):
        meta = _meta(path)
        assert meta["comment"].startswith("Edited with ned 0.1.0"), path
        assert "emotion happy at intensity 1; controls brow_lower=0.3" in meta["comment"]
        edit = json.loads(meta["description"])["edit"]
        assert edit["emotion"] == "happy" and edit["controls"] == {"brow_lower": 0.3}
    a = [f.image for f in read_frames(plain)]
    b = [f.image for f in read_frames(marked)]
    h, w = a[0].shape[:2]
    (x0, y0, x1, y1), _ = mark_box((w, h), "AI-edited (ned)")
    outside = np.ones((h, w), bool)
    outside[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = False
    for fa, fb in zip(a, b):   # every frame marked, nothing else changed
        assert np.array_equal(fa[outside], fb[outside])
        assert np.abs(fa[y0:y1, x0:x1].astype(int) - fb[y0:y1, x0:x1]).mean() > 10
