"""Classifier choice and the acceptance check on the bundled clips, per segment.

``pytest -s`` prints the per-segment class fractions of every classifier on both clips.
"""

from __future__ import annotations

import numpy as np
import pytest

from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.metrics import emotion as emo
from ned.metrics.evaluate import EvalConfig, classify_video, segment_fractions

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


@pytest.mark.xfail(strict=True, reason="acceptance point not met: face-api's model reads most "
                   "of carphone.mp4 as surprised (78 %; its own SSD/tiny detector + landmark "
                   "pipeline in node: 75-82 %), see docs/evaluation.md")
def test_carphone_is_mostly_neutral_with_the_default_classifier(readings):
    probs, _ = readings["carphone", emo.DEFAULT_CLASSIFIER]
    assert _fractions(probs)["neutral"] > 0.5


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
