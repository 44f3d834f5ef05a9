import numpy as np
import pytest

from ned.blendshapes import EMOTIONS, INDEX
from ned.errors import NedError
from ned.manipulator.speech import SPEECH_CHANNELS
from ned.manipulator.synthetic import (
    DEAD_CHANNELS,
    PROTOTYPES,
    SyntheticEmotionData,
    synthetic_batch,
)


@pytest.fixture(scope="module")
def gen(speech_tracks):
    return SyntheticEmotionData([speech_tracks["carphone"]["blendshapes"]])


def test_batch_shapes_seeded(gen):
    a = synthetic_batch(gen, np.random.default_rng(3), 16)
    b = synthetic_batch(gen, np.random.default_rng(3), 16)
    for k in ("x", "x_ref", "x_trg"):
        assert a[k].shape == (16, 10, 52) and a[k].dtype == np.float32
        assert np.array_equal(a[k], b[k])
        assert a[k].min() >= 0 and a[k].max() <= 1
        assert not a[k][..., [INDEX[n] for n in DEAD_CHANNELS]].any()
    assert a["y"].shape == (16,) and set(a["y_trg"]) <= set(range(7))


def test_paired_target_keeps_speech_and_moves_facs(gen):
    b = synthetic_batch(gen, np.random.default_rng(0), 400)
    jaw = INDEX["jawOpen"]
    assert np.array_equal(b["x"][..., jaw], b["x_trg"][..., jaw])
    for k, emo in enumerate(EMOTIONS):
        if emo == "neutral":
            continue
        sel = (b["y_trg"] == k) & (b["y"] == 0)
        for ch in PROTOTYPES[emo]:
            d = (b["x_trg"][sel][..., INDEX[ch]] - b["x"][sel][..., INDEX[ch]]).mean()
            assert d > 0.03, (emo, ch, d)
    # unrelated speech channels are identical between source and target
    for ch in SPEECH_CHANNELS:
        if not any(ch in p for p in PROTOTYPES.values()):
            assert np.array_equal(b["x"][..., INDEX[ch]], b["x_trg"][..., INDEX[ch]])


def test_rejects_bad_tracks():
    with pytest.raises(NedError):
        SyntheticEmotionData([])
    with pytest.raises(NedError):
        SyntheticEmotionData([np.zeros((5, 52), np.float32)])
