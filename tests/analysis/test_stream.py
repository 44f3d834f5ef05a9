"""Analysis rows as a stream: the live background analysis gives exactly the rows of the
record it writes; errors and early exits are clean."""

from __future__ import annotations

import io

import numpy as np
import pytest

from ned.analysis import AnalysisConfig
from ned.analysis.occlusion import OcclusionConfig
from ned.analysis.stream import (
    CHUNK_FIELDS,
    OCCLUSION_CHUNK_FIELDS,
    LiveAnalysis,
    RowChunk,
    read_message,
    record_chunks,
    write_message,
)
from ned.errors import NedError

FIELDS = (*CHUNK_FIELDS, "cut", *OCCLUSION_CHUNK_FIELDS)


def _concat(chunks):
    chunks = list(chunks)
    assert [c.start for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
    return {k: np.concatenate([getattr(c, k) for c in chunks]) for k in FIELDS}


def test_live_rows_equal_the_written_record(single_face_path, tmp_path):
    """With the occlusion pass (its rows come out a few frames late, in order)."""
    out = tmp_path / "track.npz"
    cfg = AnalysisConfig(occlusion=OcclusionConfig())
    with LiveAnalysis(single_face_path, out, cfg, chunk=5) as live:
        got = _concat(live)
    assert live.summary.frames == 72 and out.exists() and live.summary.cpu > 0
    assert 0 < live.summary.hand_searches < 30 and live.waited >= 0
    want = _concat(record_chunks(out, chunk=16))
    for k, v in want.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v, equal_nan=True), k
    assert got["valid"].all() and got["landmarks"].shape == (72, 478, 3)
    assert got["occlusion"].shape == (72, 1152) and got["hands"].shape == (72, 4, 21, 2)
    assert not got["occlusion"].any() and np.isnan(got["hands"]).all()  # a clean clip


def test_chunks_without_occlusion_cross_the_pipe():
    n = 3
    chunk = RowChunk(7, np.ones(n, bool), np.zeros((n, 478, 3), np.float32),
                     np.zeros((n, 52), np.float32), np.zeros((n, 4, 4), np.float32),
                     np.arange(n, dtype=np.float64), np.zeros(n, bool))
    buf = io.BytesIO()
    write_message(buf, "rows", chunk=chunk)
    buf.seek(0)
    kind, got = read_message(buf)
    assert got.start == 7 and got.occlusion is None and got.hands is None
    assert all(np.array_equal(getattr(got, k), getattr(chunk, k)) for k in (*CHUNK_FIELDS, "cut"))


def test_live_analysis_error_is_a_ned_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    out = tmp_path / "track.npz"
    with pytest.raises(NedError, match="bad.mp4"), LiveAnalysis(bad, out) as live:
        list(live)
    assert not out.exists()


def test_leaving_early_stops_the_process(single_face_path, tmp_path):
    out = tmp_path / "track.npz"
    with LiveAnalysis(single_face_path, out, chunk=2, depth=1) as live:
        first = next(iter(live))
    assert len(first) == 2 and live._proc.poll() is not None
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_arguments(single_face_path, tmp_path):
    with pytest.raises(NedError):
        LiveAnalysis(single_face_path, tmp_path / "t.npz", chunk=0)
    with pytest.raises(NedError):
        next(record_chunks(tmp_path / "t.npz", chunk=0))
