"""Measurements of a manipulator on real clips (used by the tests, the training script and
docs/manipulator.md): speech preservation, the level of every channel group of ``ned.facs``
against its target, self- vs cross-translation change, reference mode, intensity.
"""

from __future__ import annotations

import numpy as np

from ned.blendshapes import EMOTIONS
from ned.facs import GROUPS, REST, SPEECH_GROUPS, TARGETS
from ned.manipulator.infer import Manipulator, translate
from ned.manipulator.speech import pearson


def speech_correlations(manip: Manipulator, x: np.ndarray, valid: np.ndarray,
                        emotions: tuple[str, ...] = EMOTIONS, seed: int = 0,
                        intensity: float = 1.0, highpass: int = 0,
                        ) -> dict[str, dict[str, float]]:
    """Pearson r, input vs output, of every speech channel, per target emotion.

    Args:
        x: (T, E) expressions of a talking clip; valid: (T,) bool.
        highpass: > 1: correlate the motion only (input and output minus their moving
            average over this many frames), so a changed posture (a grin's raised lips
            brought back to plain speech) does not count, only the speech on top of it.

    Returns:
        emotion -> speech channel name -> r over the valid frames.
    """
    def hp(a: np.ndarray) -> np.ndarray:
        if highpass <= 1:
            return a
        from scipy.ndimage import uniform_filter1d

        return a - uniform_filter1d(a.astype(np.float64), highpass, mode="nearest")

    out: dict[str, dict[str, float]] = {}
    for emo in emotions:
        y = translate(manip, x, valid, emotion=emo, seed=seed, intensity=intensity)
        out[emo] = {manip.names[i]: pearson(hp(x[valid, i]), hp(y[valid, i]))
                    for i in manip.speech_idx}
    return out


def group_means(x: np.ndarray, valid: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """Mean level of every group of ``ned.facs.GROUPS`` (mean of its channels, valid frames)."""
    return {g: float(x[valid][:, [names.index(c) for c in GROUPS[g]]].mean()) for g in GROUPS}


def group_levels(manip: Manipulator, x: np.ndarray, valid: np.ndarray,
                 emotions: tuple[str, ...] = EMOTIONS, seed: int = 0,
                 intensity: float = 1.0) -> dict[str, dict[str, float]]:
    """Per target emotion: the mean output level of every group (label mode)."""
    return {e: group_means(translate(manip, x, valid, emotion=e, seed=seed,
                                     intensity=intensity), valid, manip.names)
            for e in emotions}


def target_misses(levels: dict[str, dict[str, float]], inputs: dict[str, float],
                  tol: float = 0.1, rest_margin: float = 0.05) -> list[str]:
    """The acceptance of the target table; returns the failures (empty = accepted).

    A targeted group's mean output must lie within ``tol`` of its ``TARGETS`` level; every
    other group at most ``REST + rest_margin``, except a speech group (``SPEECH_GROUPS``,
    whose level is the speech itself), which may not rise more than ``rest_margin`` above
    the input's mean.
    """
    out = []
    for emo, lv in levels.items():
        for g, got in lv.items():
            if g in TARGETS[emo]:
                if abs(got - TARGETS[emo][g]) > tol:
                    out.append(f"{emo}/{g}: {got:.3f}, target {TARGETS[emo][g]}")
            elif g in SPEECH_GROUPS:
                if got > inputs[g] + rest_margin:
                    out.append(f"{emo}/{g}: {got:.3f}, input {inputs[g]:.3f}")
            elif got > REST + rest_margin:
                out.append(f"{emo}/{g}: {got:.3f}, rest {REST}")
    return out


def intensity_response(manip: Manipulator, x: np.ndarray, valid: np.ndarray,
                       intensity: float = 0.5, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per emotion: how much of the intensity-1 change an edit at ``intensity`` makes.

    ``change``: mean |output - input| at ``intensity`` / the same at 1 (all channels);
    ``groups``: the targeted groups' mean shift (output - input) at ``intensity`` / at 1
    (neutral: the mean |shift| of every group).
    """
    res = {}
    x0 = group_means(x, valid, manip.names)
    for emo in EMOTIONS:
        ys = {a: translate(manip, x, valid, emotion=emo, seed=seed, intensity=a)
              for a in (intensity, 1.0)}
        ch = {a: float(np.abs(y - x)[valid].mean()) for a, y in ys.items()}
        gm = {a: group_means(y, valid, manip.names) for a, y in ys.items()}
        groups = list(TARGETS[emo]) or list(GROUPS)
        d = {a: float(np.mean([abs(gm[a][g] - x0[g]) for g in groups])) for a in ys}
        res[emo] = {"change": ch[intensity] / max(ch[1.0], 1e-9),
                    "groups": d[intensity] / max(d[1.0], 1e-9)}
    return res


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
    """Distance to the reference's level, before/after reference-mode translation.

    Returns ``before`` and ``after``: mean |channel mean of clip - channel mean of reference|
    over ``channels``; ``after_median``: the same against the reference's median frame
    level (the style of a reference is the geometric median of its windows' styles, so a
    reference that changes emotion is reproduced at its dominant level, not its mean);
    ``shift``: mean output - input per channel, averaged.
    """
    idx = [manip.names.index(c) for c in channels]
    y = translate(manip, x, valid, reference=ref)
    r, r_med = ref[:, idx].mean(0), np.median(ref[:, idx], axis=0)
    out = y[valid][:, idx].mean(0)
    before = float(np.abs(x[valid][:, idx].mean(0) - r).mean())
    after = float(np.abs(out - r).mean())
    shift = float((y[valid][:, idx] - x[valid][:, idx]).mean())
    return {"before": before, "after": after, "after_median": float(np.abs(out - r_med).mean()),
            "shift": shift}


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
