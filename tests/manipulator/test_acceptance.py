"""Acceptance of the shipped default manipulator on the real sample talking clips.

single_face.mp4 is held out of training (the default learnt its speech from carphone.mp4
only), so the speech-preservation numbers are measured on it. The FACS-direction test uses
both clips: carphone is a near-neutral talker (its emotion channels were never seen in
training, only its speech channels), single_face already smiles, so there each emotion is
compared with the translation to neutral.
"""

import numpy as np
import pytest

from ned.blendshapes import EMOTIONS
from ned.manipulator.evaluate import (
    FACS_CHANNELS,
    reference_shift,
    self_vs_cross,
    speech_correlations,
)
from ned.manipulator.infer import default_path, load_manipulator, translate


@pytest.fixture(scope="module")
def manip():
    return load_manipulator()


def _clip(speech_tracks, name):
    x = speech_tracks[name]["blendshapes"].astype(np.float32)
    return x, speech_tracks[name]["valid"].astype(bool)


def test_default_is_small_and_documented(manip):
    assert default_path().with_suffix(".safetensors").stat().st_size < 20e6
    assert manip.speech_channels[0] == "jawOpen"
    assert manip.meta["held_out_clip"] == "single_face.mp4"


def test_jaw_correlation_on_held_out_clip(manip, speech_tracks):
    x, v = _clip(speech_tracks, "single_face")
    r = speech_correlations(manip, x, v)
    for emo in EMOTIONS:
        assert r[emo]["jawOpen"] >= 0.95, (emo, r[emo]["jawOpen"])


@pytest.mark.parametrize("emotion", [e for e in EMOTIONS if e != "neutral"])
def test_facs_channels_move_the_right_way(manip, speech_tracks, emotion):
    idx = [manip.names.index(c) for c in FACS_CHANNELS[emotion]]
    x, v = _clip(speech_tracks, "carphone")
    y = translate(manip, x, v, emotion=emotion)
    shift = (y[v][:, idx] - x[v][:, idx]).mean(0)
    assert (shift > 0).all() and shift.max() > 0.05, (emotion, shift)
    x, v = _clip(speech_tracks, "single_face")
    y = translate(manip, x, v, emotion=emotion)
    neutral = translate(manip, x, v, emotion="neutral")
    assert (y[v][:, idx] - neutral[v][:, idx]).mean(0).max() > 0.05


def test_self_translation_changes_little(manip, speech_tracks):
    for name in ("single_face", "carphone"):
        x, v = _clip(speech_tracks, name)
        ch = self_vs_cross(manip, x, v)
        cross = [ch[e] for e in EMOTIONS if e != "neutral"]
        assert ch["self"] < min(cross) and ch["self"] < 0.6 * np.mean(cross), (name, ch)


def test_reference_mode_moves_toward_the_reference(manip, speech_tracks):
    x, v = _clip(speech_tracks, "carphone")  # near-neutral talker
    ref, _ = _clip(speech_tracks, "single_face")  # a smiling talker
    r = reference_shift(manip, x, v, ref, ("mouthSmileLeft", "mouthSmileRight"))
    assert r["shift"] > 0.2 and r["after"] < 0.5 * r["before"], r


def test_default_same_seed_same_output(manip, speech_tracks):
    x, v = _clip(speech_tracks, "single_face")
    a = translate(manip, x, v, emotion="fear", seed=11, intensity=0.7)
    b = translate(load_manipulator(), x, v, emotion="fear", seed=11, intensity=0.7)
    assert np.array_equal(a, b)
