"""Each blendshape moves the face the right way (in image space, on a real clip), and the
non-speech channels leave the inner-lip opening alone."""

from __future__ import annotations

import numpy as np
import pytest

from ned import topology as tp
from ned.blendshapes import BLENDSHAPE_NAMES, INDEX
from ned.facemodel.regions import is_non_speech

MARGIN = 0.02            # "visible": 2% of the inter-ocular distance for a +0.5 change
STEP = 0.5


def _moved(fit, name: str, step: float = STEP) -> tuple[np.ndarray, np.ndarray]:
    e = fit.expressions.copy()
    e[:, INDEX[name]] += step
    iod = tp.inter_ocular(fit.landmarks)[:, None]
    return fit.landmarks[..., :2] / iod[..., None], fit.landmarks_for(e)[..., :2] / iod[..., None]


def _gap(p: np.ndarray) -> np.ndarray:
    return np.linalg.norm(p[:, tp.UPPER_INNER_LIP] - p[:, tp.LOWER_INNER_LIP], axis=-1)


def test_jaw_open_lowers_chin_and_opens_inner_lips(single_face_fit):
    before, after = _moved(single_face_fit, "jawOpen")
    chin = (after[:, tp.CHIN, 1] - before[:, tp.CHIN, 1]).mean()       # image y is down
    gap = (_gap(after) - _gap(before)).mean()
    print(f"\njawOpen +{STEP}: chin down {chin:.3f} IOD, inner lips open {gap:.3f} IOD")
    assert chin > MARGIN and gap > MARGIN


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_smile_moves_corners_up_and_out(single_face_fit, side):
    before, after = _moved(single_face_fit, f"mouthSmile{side}")
    c, other = (tp.MOUTH_CORNER_LEFT, tp.MOUTH_CORNER_RIGHT) if side == "Left" else \
        (tp.MOUTH_CORNER_RIGHT, tp.MOUTH_CORNER_LEFT)
    out_dir = before[:, c] - before[:, other]
    out_dir /= np.linalg.norm(out_dir, axis=-1, keepdims=True)
    d = after[:, c] - before[:, c]
    up, out = -d[:, 1].mean(), (d * out_dir).sum(-1).mean()
    print(f"\nmouthSmile{side} +{STEP}: corner up {up:.3f} IOD, outward {out:.3f} IOD")
    assert up > MARGIN and out > MARGIN


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_blink_closes_the_eyelids(single_face_fit, side):
    before, after = _moved(single_face_fit, f"eyeBlink{side}")
    top, bottom = (tp.LEFT_EYE_TOP, tp.LEFT_EYE_BOTTOM) if side == "Left" else \
        (tp.RIGHT_EYE_TOP, tp.RIGHT_EYE_BOTTOM)
    close = ((before[:, bottom, 1] - before[:, top, 1]) -
             (after[:, bottom, 1] - after[:, top, 1])).mean()
    print(f"\neyeBlink{side} +{STEP}: lids closer by {close:.3f} IOD")
    assert close > MARGIN


def test_brow_inner_up_raises_inner_brows(single_face_fit):
    before, after = _moved(single_face_fit, "browInnerUp")
    up = -(after[:, [55, 285, 107, 336], 1] - before[:, [55, 285, 107, 336], 1]).mean()
    print(f"\nbrowInnerUp +{STEP}: inner brows up {up:.3f} IOD")
    assert up > MARGIN


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_brow_down_lowers_brows(single_face_fit, side):
    before, after = _moved(single_face_fit, f"browDown{side}")
    pts = list(tp.LEFT_EYEBROW if side == "Left" else tp.RIGHT_EYEBROW)
    down = (after[:, pts, 1] - before[:, pts, 1]).mean()
    print(f"\nbrowDown{side} +{STEP}: brows down {down:.3f} IOD")
    assert down > MARGIN


#: Stated bound: a non-speech channel moved by +-1 changes the inner-lip opening by less
#: than 0.1% of the inter-ocular distance (it is 0 by construction of the regions).
NON_SPEECH_BOUND = 1e-3


def test_non_speech_channels_keep_the_inner_lip_opening(single_face_fit, carphone_fit):
    worst = {}
    for fit in (single_face_fit, carphone_fit):
        for name in BLENDSHAPE_NAMES:
            if not is_non_speech(name):
                continue
            for step in (-1.0, 1.0):
                before, after = _moved(fit, name, step)
                worst[name] = max(worst.get(name, 0.0),
                                  float(np.abs(_gap(after) - _gap(before)).max()))
    top = max(worst, key=worst.get)
    print(f"\nnon-speech channels ({len(worst)}): largest inner-lip change "
          f"{worst[top]:.2e} IOD ({top}); bound {NON_SPEECH_BOUND}")
    assert worst[top] < NON_SPEECH_BOUND
    # a smile is a mouth channel: it may move the lips, but only a little
    before, after = _moved(single_face_fit, "mouthSmileLeft")
    smile = float(np.abs(_gap(after) - _gap(before)).mean())
    print(f"mouthSmileLeft +{STEP}: inner-lip opening changes {smile:.3f} IOD")
    assert smile < 0.05


def test_a_full_blink_does_not_cross_the_lids(single_face_fit):
    from ned.facemodel.fit import lid_gaps

    fit = single_face_fit
    e = fit.expressions.copy()
    e[:, INDEX["eyeBlinkLeft"]] = e[:, INDEX["eyeBlinkRight"]] = 1.5
    gap_raw = lid_gaps(fit.landmarks_for(e, limit_lids=False))
    gap_lim = lid_gaps(fit.landmarks_for(e))
    limit = np.minimum(lid_gaps(fit.landmarks), 0.0)
    print(f"\neyeBlink 1.5: most crossed lid pair {gap_raw.min():.2f} px without the limit, "
          f"{(gap_lim - limit).min():.2f} px with it")
    assert (gap_raw < -0.5).any()                    # the linear rig overshoots ...
    assert (gap_lim - limit).min() > -1e-3           # ... the limit stops at closed lids
    np.testing.assert_array_equal(fit.landmarks_for(fit.expressions), fit.landmarks)
