"""Classifier choice, the classifiers' readings of the bundled clips, and the per-segment
emotion report (``segment_fractions`` and the ``segments`` of the emotion summary).

``pytest -s`` prints the per-segment class fractions of every classifier on both clips.
"""

from __future__ import annotations

import numpy as np
import pytest

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import emotion as emo
from ned.metrics.evaluate import (
    EmotionSegment,
    EvalConfig,
    classify_video,
    emotion_summary,
    segment_fractions,
)

SMILE_FROM = 24  # single_face.mp4: smiling from frame 24 (0.8 s) to the end


@pytest.fixture(scope="module")
def readings(single_face_path, single_face_track, carphone_path, carphone_track):
    """(clip, classifier) -> ((T, 7) probabilities, timestamps); printed per segment."""
    out = {}
    for clip, path, track in (("single_face", single_face_path, single_face_track),
                              ("carphone", carphone_path, carphone_track)):
        for name in emo.CLASSIFIERS:
            probs, _ = classify_video(path, track, classifier=name)
            out[clip, name] = probs, track.timestamps
            whole = segment_fractions(probs, track.timestamps, 1e9)[0]["fractions"]
            print(f"\n{clip} / {name}: " + _fmt(whole))
            for s in segment_fractions(probs, track.timestamps, 1.0):
                print(f"  {s['start']:.2f}-{s['end']:.2f} s ({s['frames']} frames): "
                      + _fmt(s["fractions"]))
    return out


def _fmt(fractions: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in sorted(fractions.items(), key=lambda kv: -kv[1]))


def _fractions(probs: np.ndarray) -> dict[str, float]:
    pred = probs[~np.isnan(probs).any(1)].argmax(1)
    return {e: float((pred == k).mean()) for k, e in enumerate(EMOTIONS)}


@pytest.mark.parametrize("name", emo.CLASSIFIERS)
def test_smiling_part_of_single_face_is_happy(readings, name):
    probs, ts = readings["single_face", name]
    assert _fractions(probs[:12])["neutral"] == 1.0  # first 0.4 s: not yet smiling
    assert _fractions(probs[SMILE_FROM:])["happy"] >= 0.9
    segs = segment_fractions(probs, ts, 1.0)
    assert [s["dominant"] for s in segs[1:]] == ["happy"] * (len(segs) - 1)


def _check_segment_fractions(probs: np.ndarray, ts: np.ndarray, seconds: float) -> list[dict]:
    """The invariants of ``segment_fractions`` on (T, 7) probabilities; returns the segments."""
    segs = segment_fractions(probs, ts, seconds)
    face = ~np.isnan(probs).any(1)
    assert segs and segs[0]["start"] == ts[0] and segs[-1]["end"] == ts[-1]
    for a, b in zip(segs, segs[1:]):
        assert a["end"] < b["start"]  # in time order, no overlap
    covered = 0
    for s in segs:
        assert ts[0] <= s["start"] < s["end"] <= ts[-1] and s["end"] - s["start"] < seconds
        inside = (ts >= s["start"]) & (ts <= s["end"])
        covered += int(inside.sum())
        assert s["frames"] == int((inside & face).sum())  # frames with a face counted
        pred = probs[inside & face].argmax(1)
        counts = {EMOTIONS[k]: int((pred == k).sum()) for k in set(pred.tolist())}
        fr = s["fractions"]
        assert set(fr) == set(counts) <= set(EMOTIONS)  # classes present only
        assert all(v > 0 for v in fr.values()) and sum(fr.values()) == pytest.approx(1.0)
        for e, n in counts.items():
            assert fr[e] * s["frames"] == pytest.approx(n)
        assert s["dominant"] == max(fr, key=fr.get)  # argmax of the fractions
    assert covered == len(ts)  # every frame in exactly one segment
    return segs


@pytest.mark.parametrize("clip", ["single_face", "carphone"])
@pytest.mark.parametrize("seconds", [1.0, 0.5])
def test_per_segment_report_on_the_bundled_clips(readings, clip, seconds):
    probs, ts = readings[clip, emo.DEFAULT_CLASSIFIER]
    fer, _ = readings[clip, "fer"]
    segs = _check_segment_fractions(probs, ts, seconds)
    duration = ts[-1] - ts[0]
    assert len(segs) == int(np.floor(duration / seconds)) + 1
    # the emotion summary's segments: the same boundaries, every frame counted, mean
    # probabilities summing to 1 with the dominant class their argmax (source: the default
    # classifier, edited: fer)
    summary = emotion_summary(probs, fer, None, ts, seconds)
    assert all(isinstance(s, EmotionSegment) for s in summary.segments)
    assert [(s.start, s.end) for s in summary.segments] == [
        (s["start"], s["end"]) for s in segs]
    assert sum(s.frames for s in summary.segments) == len(ts)
    for s, f in zip(summary.segments, segs):
        assert s.frames >= f["frames"]
        for dominant, mean in ((s.source, s.source_probs), (s.edited, s.edited_probs)):
            assert list(mean) == list(EMOTIONS) and sum(mean.values()) == pytest.approx(1.0)
            assert dominant == max(mean, key=mean.get)
    if clip == "single_face":  # smiling from 0.8 s on
        assert [s["dominant"] for s in segs if s["start"] >= 1.0] == ["happy"] * len(
            [s for s in segs if s["start"] >= 1.0])


def test_segment_fractions_known_answer():
    """25 frames at 10 fps, 1 s segments: 0.0-0.9 s (7 happy, 3 sad), 1.0-1.9 s (no face),
    2.0-2.4 s (3 angry, 1 neutral, 1 without a face)."""
    ts = np.arange(25) / 10
    probs = np.full((25, 7), np.nan, np.float32)
    rng = np.random.default_rng(0)

    def rows(emotion: str, n: int) -> np.ndarray:
        p = rng.uniform(0, 0.1, (n, 7)).astype(np.float32)
        p[:, EMOTIONS.index(emotion)] = 0.5
        return p / p.sum(1, keepdims=True)

    probs[0:7], probs[7:10] = rows("happy", 7), rows("sad", 3)
    probs[20:23], probs[23:24] = rows("angry", 3), rows("neutral", 1)
    segs = segment_fractions(probs, ts)
    assert segs == [
        {"start": 0.0, "end": 0.9, "frames": 10, "fractions": {"happy": 0.7, "sad": 0.3},
         "dominant": "happy"},
        {"start": 1.0, "end": 1.9, "frames": 0, "fractions": {}, "dominant": None},
        {"start": 2.0, "end": 2.4, "frames": 4, "fractions": {"neutral": 0.25, "angry": 0.75},
         "dominant": "angry"}]
    summary = emotion_summary(probs, probs, "happy", ts)
    s0, s1, s2 = summary.segments
    assert (s0.frames, s1.frames, s2.frames) == (10, 10, 5)
    assert s0.source == s0.edited == "happy" and s1.source is s1.source_probs is None
    assert s2.edited == "angry"
    np.testing.assert_allclose(list(s0.source_probs.values()), probs[:10].mean(0), rtol=1e-6)
    assert summary.target_fraction == pytest.approx(7 / 14)
    assert summary.frames.source == summary.frames.edited == 14


def test_carphone_readings_as_measured(readings):
    """What the classifiers say on carphone.mp4 (wide eyes, open mouth while talking)."""
    fa = _fractions(readings["carphone", "faceapi"][0])
    fer = _fractions(readings["carphone", "fer"][0])
    assert fa["surprised"] > 0.6 and fa["neutral"] < 0.2
    assert max(fer, key=fer.get) == "neutral" and fer["neutral"] < 0.5


def test_ensemble_is_the_mean_of_both(readings):
    for clip in ("single_face", "carphone"):
        a, b = readings[clip, "faceapi"][0], readings[clip, "fer"][0]
        np.testing.assert_allclose(readings[clip, "ensemble"][0], (a + b) / 2, atol=1e-6)


def test_classifier_choice_is_checked():
    assert emo.DEFAULT_CLASSIFIER in emo.CLASSIFIERS
    assert EvalConfig().classifier == emo.DEFAULT_CLASSIFIER
    with pytest.raises(NedError, match="unknown emotion classifier"):
        EvalConfig(classifier="vgg")
    with pytest.raises(NedError, match="unknown emotion classifier"):
        emo.EmotionClassifier("vgg")
    assert emo.EmotionClassifier("fer").classify([]).shape == (0, 7)
    assert emo.EmotionClassifier("ensemble").classify([]).shape == (0, 7)


def test_cli_offers_every_classifier():
    import argparse

    from ned.metrics import commands

    sub = argparse.ArgumentParser().add_subparsers()
    commands.register(sub)
    p = sub.choices["evaluate"]
    action = next(a for a in p._actions if a.dest == "classifier")
    assert tuple(action.choices) == emo.CLASSIFIERS and action.default == emo.DEFAULT_CLASSIFIER


def test_crop_outside_the_frame_is_none(single_face_track):
    pts = single_face_track.landmarks[0].copy()
    pts[:, 0] += 5000
    img = np.zeros((360, 640, 3), np.uint8)
    for name in emo.CLASSIFIERS:
        assert emo.EmotionClassifier(name).crop(img, pts) is None


def test_segment_fractions_checks_and_counts():
    probs = np.zeros((4, 7), np.float32)
    probs[:3, EMOTIONS.index("happy")] = 1
    probs[3] = np.nan
    segs = segment_fractions(probs, np.array([0.0, 0.5, 1.0, 1.5]), 1.0)
    assert [s["frames"] for s in segs] == [2, 1] and segs[0]["fractions"] == {"happy": 1.0}
    with pytest.raises(NedError):
        segment_fractions(probs[:, :3], np.zeros(4), 1.0)
    with pytest.raises(NedError):
        segment_fractions(probs, np.zeros(4), 0.0)
