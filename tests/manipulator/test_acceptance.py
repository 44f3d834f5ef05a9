"""Acceptance of the shipped default manipulator on the real sample talking clips.

single_face.mp4 is held out of training (the default learnt its speech from carphone.mp4
only): a man talking with a broad toothy grin (mouthSmile 0.62 on average). carphone.mp4 is
a near-neutral talker (its emotion channels were never seen in training, only its speech
channels). On both, each emotion at intensity 1 must reach the target table
(``ned.facs.TARGETS``: every targeted group's mean output within 0.1 of its level) and
remove the other emotions (every other group at most ``REST`` + 0.05 on average; the speech
group mouthUpperUp, whose level is the speech itself, not raised above the input), while
the jaw keeps the speech (jawOpen r >= 0.99).
"""

import numpy as np
import pytest

from ned.blendshapes import EMOTIONS
from ned.facs import GROUPS, REST, TARGETS
from ned.manipulator.evaluate import (
    group_levels,
    group_means,
    intensity_response,
    reference_shift,
    self_vs_cross,
    speech_correlations,
    target_misses,
)
from ned.manipulator.infer import default_path, load_manipulator, translate

CLIPS = ("single_face", "carphone")


@pytest.fixture(scope="module")
def manip():
    return load_manipulator()


def _clip(speech_tracks, name):
    x = speech_tracks[name]["blendshapes"].astype(np.float32)
    return x, speech_tracks[name]["valid"].astype(bool)


@pytest.fixture(scope="module")
def levels(manip, speech_tracks):
    out = {}
    for name in CLIPS:
        x, v = _clip(speech_tracks, name)
        out[name] = (group_levels(manip, x, v), group_means(x, v, manip.names))
    return out


def test_default_is_small_and_documented(manip):
    assert default_path().with_suffix(".safetensors").stat().st_size < 20e6
    assert manip.speech_channels[0] == "jawOpen"
    assert manip.meta["held_out_clip"] == "single_face.mp4"


@pytest.mark.parametrize("name", CLIPS)
def test_jaw_keeps_the_speech(manip, speech_tracks, name):
    x, v = _clip(speech_tracks, name)
    r = speech_correlations(manip, x, v)
    for emo in EMOTIONS:
        assert r[emo]["jawOpen"] >= 0.99, (emo, r[emo]["jawOpen"])


@pytest.mark.parametrize("name", CLIPS)
def test_target_table_is_reached(levels, name):
    lv, inputs = levels[name]
    assert set(lv) == set(EMOTIONS) and all(set(v) == set(GROUPS) for v in lv.values())
    misses = target_misses(lv, inputs, tol=0.1, rest_margin=0.05)
    assert not misses, misses


def test_held_out_grin_is_removed(levels):
    lv, inputs = levels["single_face"]
    assert inputs["mouthSmile"] > 0.6
    for emo in ("neutral", "angry", "sad"):
        assert lv[emo]["mouthSmile"] <= 0.08, (emo, lv[emo]["mouthSmile"])
    # the grin's raised upper-lip posture goes back to plain speech, except for disgust
    for emo in EMOTIONS:
        if "mouthUpperUp" not in TARGETS[emo]:
            assert lv[emo]["mouthUpperUp"] < 0.5 * inputs["mouthUpperUp"], emo


def test_other_emotions_stay_at_rest_on_average(levels):
    for name in CLIPS:
        lv, _ = levels[name]
        for emo in EMOTIONS:
            others = [lv[emo][g] for g in GROUPS if g not in TARGETS[emo] and g != "mouthUpperUp"]
            assert np.mean(others) <= REST + 0.05, (name, emo, np.mean(others))


@pytest.mark.slow  # 1.5-2 s; the module keeps fast tests of its kind
def test_self_translation_changes_little(manip, speech_tracks):
    for name in CLIPS:
        x, v = _clip(speech_tracks, name)
        ch = self_vs_cross(manip, x, v)
        cross = [ch[e] for e in EMOTIONS if e != "neutral"]
        assert ch["self"] < min(cross) and ch["self"] < 0.6 * np.mean(cross), (name, ch)


def test_reference_mode_reaches_the_reference(manip, speech_tracks):
    x, v = _clip(speech_tracks, "carphone")  # near-neutral talker
    ref, _ = _clip(speech_tracks, "single_face")  # a grinning talker
    r = reference_shift(manip, x, v, ref, ("mouthSmileLeft", "mouthSmileRight"))
    # single_face grins in 52 of 72 frames: the style (a median over windows) is his grin
    assert r["shift"] > 0.5 and r["after_median"] < 0.1, r


@pytest.mark.slow  # 1.5-2 s; the module keeps fast tests of its kind
def test_half_intensity_makes_about_half_the_change(manip, speech_tracks):
    x, v = _clip(speech_tracks, "carphone")
    res = intensity_response(manip, x, v, 0.5)
    for emo in EMOTIONS:
        if emo != "neutral":
            assert 0.3 <= res[emo]["groups"] <= 0.7, (emo, res[emo])


def test_default_same_seed_same_output(manip, speech_tracks):
    x, v = _clip(speech_tracks, "single_face")
    a = translate(manip, x, v, emotion="fear", seed=11, intensity=0.7)
    b = translate(load_manipulator(), x, v, emotion="fear", seed=11, intensity=0.7)
    assert np.array_equal(a, b)
