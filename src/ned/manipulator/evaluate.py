"""Measurements of a manipulator on real clips (used by the tests, the training script and
docs/manipulator.md): speech preservation, FACS direction of each emotion, self- vs
cross-translation change, reference mode.
"""

from __future__ import annotations

import numpy as np

from ned.blendshapes import EMOTIONS
from ned.manipulator.infer import Manipulator, translate
from ned.manipulator.speech import pearson

#: Channels that each emotion must raise (FACS prototypes, measurable MediaPipe outputs).
FACS_CHANNELS: dict[str, tuple[str, ...]] = {
    "happy": ("mouthSmileLeft", "mouthSmileRight"),
    "sad": ("browInnerUp", "mouthFrownLeft", "mouthFrownRight"),
    "surprised": ("browOuterUpLeft", "browOuterUpRight", "eyeWideLeft", "eyeWideRight"),
    "fear": ("browInnerUp", "eyeWideLeft", "eyeWideRight", "mouthStretchLeft",
             "mouthStretchRight"),
    "angry": ("browDownLeft", "browDownRight", "mouthPressLeft", "mouthPressRight"),
    "disgusted": ("mouthUpperUpLeft", "mouthUpperUpRight"),
}


def speech_correlations(manip: Manipulator, x: np.ndarray, valid: np.ndarray,
                        emotions: tuple[str, ...] = EMOTIONS, seed: int = 0,
                        intensity: float = 1.0) -> dict[str, dict[str, float]]:
    """Pearson r, input vs output, of every speech channel, per target emotion.

    Args:
        x: (T, E) expressions of a talking clip; valid: (T,) bool.

    Returns:
        emotion -> speech channel name -> r over the valid frames.
    """
    out: dict[str, dict[str, float]] = {}
    for emo in emotions:
        y = translate(manip, x, valid, emotion=emo, seed=seed, intensity=intensity)
        out[emo] = {manip.names[i]: pearson(x[valid, i], y[valid, i]) for i in manip.speech_idx}
    return out


def facs_shifts(manip: Manipulator, x: np.ndarray, valid: np.ndarray, seed: int = 0,
                intensity: float = 1.0) -> dict[str, dict[str, float]]:
    """Mean output - input of each emotion's FACS channels (``FACS_CHANNELS``)."""
    out: dict[str, dict[str, float]] = {}
    for emo, chans in FACS_CHANNELS.items():
        y = translate(manip, x, valid, emotion=emo, seed=seed, intensity=intensity)
        idx = [manip.names.index(c) for c in chans]
        d = (y[valid][:, idx] - x[valid][:, idx]).mean(0)
        out[emo] = {c: float(v) for c, v in zip(chans, d)}
    return out


def self_vs_cross(manip: Manipulator, x: np.ndarray, valid: np.ndarray,
                  seed: int = 0) -> dict[str, float]:
    """Mean absolute change of the expression vectors (valid frames, all channels).

    ``self``: reference mode with the clip itself as the reference (style = geometric
    median of E over the clip's windows), the paper's self-translation protocol;
    ``<emotion>``: label mode to each emotion.
    """
    res = {"self": float(np.abs(translate(manip, x, valid, reference=x, reference_valid=valid)
                                - x)[valid].mean())}
    for emo in EMOTIONS:
        y = translate(manip, x, valid, emotion=emo, seed=seed)
        res[emo] = float(np.abs(y - x)[valid].mean())
    return res


def reference_shift(manip: Manipulator, x: np.ndarray, valid: np.ndarray, ref: np.ndarray,
                    channels: tuple[str, ...]) -> dict[str, float]:
    """Distance to the reference's mean, before/after reference-mode translation.

    Returns ``before`` and ``after``: mean |channel mean of clip - channel mean of reference|
    over ``channels``, and ``shift``: mean output - input per channel, averaged.
    """
    idx = [manip.names.index(c) for c in channels]
    y = translate(manip, x, valid, reference=ref)
    r = ref[:, idx].mean(0)
    before = float(np.abs(x[valid][:, idx].mean(0) - r).mean())
    after = float(np.abs(y[valid][:, idx].mean(0) - r).mean())
    shift = float((y[valid][:, idx] - x[valid][:, idx]).mean())
    return {"before": before, "after": after, "shift": shift}


def fit_lip_gap_model(blendshapes: np.ndarray, lip_gap: np.ndarray, names: tuple[str, ...],
                      ridge: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Linear model of the inner-lip opening from every jaw/mouth channel (ridge fit).

    Args:
        blendshapes: (T, E) scores of a clip; lip_gap: (T,) inner-lip gap / IOD.

    Returns:
        (channel indices, weights with the intercept last), for :func:`predict_lip_gap`.
    """
    idx = np.array([i for i, n in enumerate(names) if n.startswith(("jaw", "mouth"))])
    a = np.c_[blendshapes[:, idx], np.ones(len(blendshapes))]
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ lip_gap)
    return idx, w


def predict_lip_gap(model: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """(T,) predicted inner-lip gap / IOD of expressions (T, E)."""
    idx, w = model
    return x[:, idx] @ w[:-1] + w[-1]


def lip_gap_correlations(manip: Manipulator, model: tuple[np.ndarray, np.ndarray],
                         x: np.ndarray, valid: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Per target emotion: r of the predicted inner-lip gap, input vs output (valid frames)."""
    g_in = predict_lip_gap(model, x[valid])
    return {e: pearson(g_in, predict_lip_gap(model, translate(manip, x, valid, emotion=e,
                                                             seed=seed)[valid]))
            for e in EMOTIONS}
