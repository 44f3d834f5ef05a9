import numpy as np
import pytest

from ned.blendshapes import EMOTIONS, INDEX
from ned.errors import NedError
from ned.facs import GROUPS, REST, SPEECH_GROUPS, TARGETS, group_indices
from ned.manipulator.speech import SPEECH_CHANNELS
from ned.manipulator.synthetic import (
    DEAD_CHANNELS,
    GRIN_LOWER,
    GRIN_UPPER,
    PROTOTYPES,
    SyntheticEmotionData,
    synthetic_batch,
)

KEYS = ("x", "x_ref", "x_trg", "x_lab")


@pytest.fixture(scope="module")
def gen(speech_tracks):
    return SyntheticEmotionData([speech_tracks["carphone"]["blendshapes"]])


@pytest.fixture(scope="module")
def big(gen):
    return synthetic_batch(gen, np.random.default_rng(0), 1400)


def _g(x, group):
    """(B,) window means of a group."""
    return x[..., group_indices(group)].mean(axis=(1, 2))


def test_prototypes_are_the_target_table():
    for emo in EMOTIONS:
        want = {c: v for g, v in TARGETS[emo].items() for c in GROUPS[g]}
        assert PROTOTYPES[emo] == want


def test_batch_shapes_seeded(gen):
    a = synthetic_batch(gen, np.random.default_rng(3), 16)
    b = synthetic_batch(gen, np.random.default_rng(3), 16)
    for k in KEYS:
        assert a[k].shape == (16, 10, 52) and a[k].dtype == np.float32
        assert np.array_equal(a[k], b[k])
        assert a[k].min() >= 0 and a[k].max() <= 1
        assert not a[k][..., [INDEX[n] for n in DEAD_CHANNELS]].any()
    assert a["y"].shape == (16,) and set(a["y_trg"]) <= set(range(7))


def test_label_target_is_the_table_level_with_the_others_removed(big):
    for k, emo in enumerate(EMOTIONS):
        sel = big["y_trg"] == k
        for g in GROUPS:
            lv = _g(big["x_lab"][sel], g)
            if g in TARGETS[emo]:  # the table level, a small jitter only
                assert abs(lv.mean() - TARGETS[emo][g]) < 0.03, (emo, g, lv.mean())
                if g not in SPEECH_GROUPS:
                    assert lv.std() < 0.04, (emo, g, lv.std())
            elif g not in SPEECH_GROUPS:  # other emotions' groups at most REST
                assert big["x_lab"][sel][..., group_indices(g)].max() <= REST + 1e-6
    # the sources span a wide range of levels; the label target does not depend on it
    sel = big["y"] == big["y_trg"]
    src = _g(big["x"][sel], "browDown")[big["y"][sel] == EMOTIONS.index("angry")]
    assert src.min() < 0.25 and src.max() > 0.7


def test_speech_is_kept_and_postures_reset(big):
    # the speech channels no emotion or grin touches are identical in every paired window
    touched = set(GRIN_UPPER) | set(GRIN_LOWER) | {c for g in SPEECH_GROUPS for c in GROUPS[g]}
    for ch in SPEECH_CHANNELS:
        if ch not in touched:
            for k in ("x_lab", "x_trg"):
                assert np.array_equal(big["x"][..., INDEX[ch]], big[k][..., INDEX[ch]])
    # a source grin's speech posture goes back to the plain speech in the label target
    happy = big["y"] == EMOTIONS.index("happy")
    grin = happy & (_g(big["x"], "mouthSmile") > 0.6) & (
        _g(big["x"], "mouthUpperUp") - _g(big["x_lab"], "mouthUpperUp") > 0.3)
    assert grin.sum() > 10
    neutral = grin & (big["y_trg"] == 0)
    lower = [INDEX[c] for c in GRIN_LOWER]
    assert (big["x"][neutral][..., lower].mean() - big["x_lab"][neutral][..., lower].mean()
            > 0.1)
    assert (_g(big["x_lab"][grin], "mouthSmile") <= REST + 1e-6).sum() >= neutral.sum()
    # the speech group's motion survives the disgust posture
    dis = big["y_trg"] == EMOTIONS.index("disgusted")
    up = INDEX["mouthUpperUpLeft"]
    d = big["x_lab"][dis][..., up] - big["x_lab"][dis][..., up].mean(1, keepdims=True)
    s = big["x"][dis][..., up] - big["x"][dis][..., up].mean(1, keepdims=True)
    moving = (np.abs(s).max(1) > 0.05) & (big["x_lab"][dis][..., up].max(1) < 0.99)
    assert moving.sum() > 10
    r = [np.corrcoef(a, b)[0, 1] for a, b in zip(d[moving], s[moving])]
    assert np.median(r) > 0.7


def test_reference_target_follows_the_reference(big):
    for k, emo in enumerate(EMOTIONS):
        if emo == "neutral":
            continue
        sel = big["y_trg"] == k
        for g in TARGETS[emo]:
            if g in SPEECH_GROUPS:
                continue
            ref, trg = _g(big["x_ref"][sel], g), _g(big["x_trg"][sel], g)
            assert np.corrcoef(ref, trg)[0, 1] > 0.95, (emo, g)
            assert np.abs(ref - trg).mean() < 0.03, (emo, g)
        others = [g for g in GROUPS if g not in TARGETS[emo] and g not in SPEECH_GROUPS]
        assert big["x_trg"][sel][..., [i for g in others for i in group_indices(g)]].max() \
            <= REST + 1e-6


def test_rejects_bad_tracks():
    with pytest.raises(NedError):
        SyntheticEmotionData([])
    with pytest.raises(NedError):
        SyntheticEmotionData([np.zeros((5, 52), np.float32)])
