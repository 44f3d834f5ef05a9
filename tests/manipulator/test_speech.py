import numpy as np
import pytest

from ned.errors import NedError
from ned.manipulator.speech import (
    SPEECH_CHANNELS,
    channel_stats,
    measure_speech_channels,
    pearson,
    speech_indices,
)


def test_measured_speech_set_is_the_shipped_one(speech_tracks):
    clips = [(speech_tracks[c]["blendshapes"], speech_tracks[c]["lip_gap"])
             for c in ("single_face", "carphone")]
    chosen, stats = measure_speech_channels(clips)
    assert chosen == SPEECH_CHANNELS
    assert chosen[0] == "jawOpen"
    # jawOpen follows the inner-lip gap closely on both clips
    for s in stats:
        jaw = next(x for x in s if x.name == "jawOpen")
        assert jaw.r_gap > 0.8


def test_rule_picks_a_channel_that_drives_the_gap():
    rng = np.random.default_rng(0)
    t = 200
    b = np.zeros((t, 52), np.float32)
    jaw, other = rng.random(t), rng.random(t)
    names = list(__import__("ned.blendshapes", fromlist=["x"]).BLENDSHAPE_NAMES)
    b[:, names.index("jawOpen")] = jaw
    b[:, names.index("mouthPressLeft")] = other
    b[:, names.index("mouthSmileLeft")] = rng.random(t)  # unrelated to the gap
    gap = jaw - 0.5 * other
    chosen, _ = measure_speech_channels([(b, gap), (b, gap)])
    assert "mouthPressLeft" in chosen and "mouthSmileLeft" not in chosen


def test_errors_and_helpers():
    with pytest.raises(NedError):
        channel_stats(np.zeros((2, 52)), np.zeros(2))
    assert speech_indices(["a", "jawOpen"]) == [1]
    with pytest.raises(NedError):
        speech_indices(["a", "b"])
    assert pearson([1, 2, 3], [2, 4, 6.5]) > 0.99
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))
