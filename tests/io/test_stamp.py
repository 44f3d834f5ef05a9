"""Provenance: every writer opened inside ``stamped`` writes the metadata, and the mark
changes only its corner of each frame."""

from __future__ import annotations

import av
import numpy as np

from ned.io import VideoWriter, read_frames
from ned.io.stamp import OutputStamp, current_stamp, draw_mark, mark_box, stamped


def _write(path, like, stamp):
    with stamped(stamp):
        w = VideoWriter(path, like=like, crf=0)
    with w:
        for f in read_frames(like, yuv=True):
            w.write(f.image, f.pts, source_yuv=f.yuv)
    return path


def test_metadata_and_mark(tmp_path, tiny_video):
    meta = {"comment": "Edited with ned: test", "description": '{"tool": "ned"}'}
    plain = _write(tmp_path / "plain.mp4", tiny_video, None)
    for ext in (".mp4", ".mkv", ".avi", ".webm"):
        out = _write(tmp_path / f"m{ext}", tiny_video, OutputStamp(meta))
        got = {k.lower(): v for k, v in av.open(str(out)).metadata.items()}
        assert got["comment"] == meta["comment"], ext
    assert "comment" not in av.open(str(plain)).metadata
    marked = _write(tmp_path / "mark.mp4", tiny_video, OutputStamp(meta, "AI-edited"))
    a = [f.image for f in read_frames(plain)]
    b = [f.image for f in read_frames(marked)]
    h, w = a[0].shape[:2]
    (x0, y0, x1, y1), _ = mark_box((w, h), "AI-edited")
    for fa, fb in zip(a, b):
        outside = np.ones((h, w), bool)
        outside[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = False   # 4:2:0 chroma
        assert np.array_equal(fa[outside], fb[outside])
        assert np.abs(fa[y0:y1, x0:x1].astype(int) - fb[y0:y1, x0:x1]).mean() > 10
    assert current_stamp() is None


def test_draw_mark_copies():
    img = np.full((90, 160, 3), 200, np.uint8)
    out, box = draw_mark(img, "AI-edited (ned)")
    assert (img == 200).all() and out.shape == img.shape
    assert box[0] % 2 == 0 and box[1] % 2 == 0 and box[2] <= 160 and box[3] <= 90
    assert (out[box[1]:box[3], box[0]:box[2]] != 200).any()
