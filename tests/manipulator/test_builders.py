"""MEAD / Aff-Wild2 builders on tiny generated trees with a mocked analysis."""

from pathlib import Path

import numpy as np
import pytest

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.manipulator.builders import (
    build_affwild2,
    build_mead,
    mead_jobs,
    read_affwild2_annotation,
)
from ned.manipulator.data import SequenceDataset, read_labels

from .conftest import make_facetrack


def fake_analyze(path: str):
    """Stand-in for ned.analysis.analyze: frame count and level from the fake file's text."""
    text = Path(path).read_text()
    if text == "broken":
        raise ValueError("cannot decode")
    n, level = (int(v) for v in text.split())
    b = np.full((n, 52), 0.1 * level, np.float32)
    return make_facetrack(b)


def _mead_tree(root: Path) -> None:
    for actor in ("M003", "W029"):
        for emo in (*EMOTIONS, "contempt"):
            lvl = 1 if emo == "neutral" else 3
            for level in {1, lvl, 3}:
                d = root / actor / "video" / "front" / emo / f"level_{level}"
                d.mkdir(parents=True, exist_ok=True)
                (d / "001.mp4").write_text(f"12 {EMOTIONS.index(emo) if emo in EMOTIONS else 0}")
    (root / "W029" / "video" / "front" / "sad" / "level_3" / "notes.txt").write_text("x")


def test_mead_builder_parallel_and_resumable(tmp_path):
    _mead_tree(tmp_path / "MEAD")
    jobs = mead_jobs(tmp_path / "MEAD", tmp_path / "out")
    assert len(jobs) == 2 * 7  # contempt dropped, one level per emotion, non-videos ignored
    assert all("level_1" in v for v, _, e in jobs if e == "neutral")
    assert all("level_3" in v for v, _, e in jobs if e != "neutral")
    s = build_mead(tmp_path / "MEAD", tmp_path / "out", analyze_fn=fake_analyze, workers=2,
                   progress=False)
    assert s.analysed == 14 and s.skipped_existing == 0 and not s.failed
    clips = read_labels(s.labels_path)
    assert sorted(c["emotion"] for c in clips) == sorted(EMOTIONS * 2)
    # resumable: a second run analyses nothing; a deleted output is redone
    Path(clips[0]["track"]).unlink()
    s2 = build_mead(tmp_path / "MEAD", tmp_path / "out", analyze_fn=fake_analyze, workers=2,
                    progress=False)
    assert s2.analysed == 1 and s2.skipped_existing == 13
    ds = SequenceDataset.from_labels(s2.labels_path)
    assert len(ds) == 14 * 3 and set(ds.domains) == set(range(7))
    batch = ds.sample(np.random.default_rng(0), 8)
    assert batch["x"].shape == (8, 10, 52)
    # the fake level encodes the emotion: reference windows carry their target domain
    assert np.allclose(batch["x_ref"][:, 0, 0], 0.1 * batch["y_trg"])


def test_mead_errors_and_failures(tmp_path):
    with pytest.raises(NedError, match="not found"):
        mead_jobs(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "MEAD" / "M1").mkdir(parents=True)
    with pytest.raises(NedError, match="no MEAD videos"):
        mead_jobs(tmp_path / "MEAD", tmp_path / "out")
    d = tmp_path / "MEAD" / "M1" / "video" / "front" / "happy" / "level_3"
    d.mkdir(parents=True)
    (d / "a.mp4").write_text("broken")
    (d / "b.mp4").write_text("11 4")
    s = build_mead(tmp_path / "MEAD", tmp_path / "out", analyze_fn=fake_analyze, workers=1,
                   progress=False)
    assert s.analysed == 1 and len(s.failed) == 1 and "cannot decode" in s.failed[0]
    assert len(read_labels(s.labels_path)) == 1


def test_affwild2_builder(tmp_path):
    root = tmp_path / "aff"
    (root / "videos" / "batch1").mkdir(parents=True)
    (root / "annotations" / "EXPR" / "Train_Set").mkdir(parents=True)
    header = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
    labels = [0] * 12 + [4] * 12 + [7] * 3 + [-1] * 3 + [2] * 15  # 45 lines, video has 40
    (root / "videos" / "batch1" / "1-30-640x360.mp4").write_text("40 0")
    (root / "videos" / "batch1" / "10-60-1280x720.mp4").write_text("20 0")
    ann = root / "annotations" / "EXPR" / "Train_Set"
    (ann / "1-30-640x360.txt").write_text("\n".join([header, *map(str, labels)]) + "\n")
    (ann / "10-60-1280x720_left.txt").write_text(header + "\n0\n")
    s = build_affwild2(root, tmp_path / "out", analyze_fn=fake_analyze, workers=2,
                       progress=False)
    assert s.analysed == 1 and s.skipped_other == ["10-60-1280x720_left"]
    (clip,) = read_labels(s.labels_path)
    fe = clip["frame_emotions"]
    assert len(fe) == 40 and fe[:12] == [0] * 12 and fe[24:30] == [-1] * 6 and fe[30] == 2
    ds = SequenceDataset.from_labels(s.labels_path)
    assert set(ds.domains) == {0, 2, 4}
    assert len(ds) == 3 + 3 + 1  # windows of one label inside runs of 12, 12 and 10 frames
    again = build_affwild2(root, tmp_path / "out", analyze_fn=fake_analyze, progress=False)
    assert again.analysed == 0 and again.skipped_existing == 1


def test_affwild2_errors(tmp_path):
    with pytest.raises(NedError, match="videos/ and annotations/"):
        build_affwild2(tmp_path, tmp_path / "o", analyze_fn=fake_analyze)
    bad = tmp_path / "x.txt"
    bad.write_text("1\n2\n")
    with pytest.raises(NedError, match="not an Aff-Wild2"):
        read_affwild2_annotation(bad)
