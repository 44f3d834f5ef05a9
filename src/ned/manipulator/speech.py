"""Which expression channels carry speech, and how well a translation keeps them.

The speech set was chosen by :func:`measure_speech_channels` on the two sample talking
clips (see docs/manipulator.md for the table): a mouth/jaw channel belongs to it when,
after removing slow trends (9-frame moving average), its partial correlation with the
inner-lip opening given jawOpen has the same sign and |r| >= 0.2 in every clip, and it
moves at all (std >= 0.01 in at least one clip). jawOpen is always first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ned.blendshapes import BLENDSHAPE_NAMES
from ned.errors import NedError

#: The measured speech set of the MediaPipe backend (jawOpen first).
SPEECH_CHANNELS: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthShrugLower", "mouthUpperUpLeft", "mouthUpperUpRight",
)


@dataclass(frozen=True)
class SpeechChannelStats:
    """Per-channel measurement on one clip (see :func:`measure_speech_channels`)."""

    name: str
    r_gap: float       # correlation with the inner-lip gap, high-passed
    r_partial: float   # partial correlation with the gap given jawOpen, high-passed
    std: float         # standard deviation of the raw channel


def _highpass(x: np.ndarray, width: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d  # here: an edit never measures speech (0.1 s)

    return x - uniform_filter1d(x, width, axis=0, mode="nearest")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-12 else float("nan")


def channel_stats(blendshapes: np.ndarray, lip_gap: np.ndarray, width: int = 9,
                  names: Sequence[str] = BLENDSHAPE_NAMES) -> list[SpeechChannelStats]:
    """Statistics of every jaw/mouth channel of one clip.

    Args:
        blendshapes: (T, 52) float32 scores of valid frames.
        lip_gap: (T,) inner-lip opening / inter-ocular distance (``ned.topology.inner_lip_gap``).
        width: moving-average width (frames) removed before correlating.
        names: channel names.
    """
    if blendshapes.ndim != 2 or lip_gap.shape != (len(blendshapes),) or len(blendshapes) < 3:
        raise NedError(f"need (T, E) blendshapes and (T,) lip gap with T >= 3, got "
                       f"{blendshapes.shape} and {lip_gap.shape}")
    b, g = _highpass(blendshapes.astype(np.float64), width), _highpass(lip_gap, width)
    jaw = b[:, list(names).index("jawOpen")]
    a = np.c_[jaw, np.ones(len(g))]
    g_res = g - a @ np.linalg.lstsq(a, g, rcond=None)[0]
    out = []
    for i, name in enumerate(names):
        if not (name.startswith("mouth") or name.startswith("jaw")):
            continue
        x = b[:, i]
        x_res = x - a @ np.linalg.lstsq(a, x, rcond=None)[0]
        r_part = float("nan") if name == "jawOpen" else _corr(x_res, g_res)
        out.append(SpeechChannelStats(name, _corr(x, g), r_part,
                                      float(blendshapes[:, i].std())))
    return out


def measure_speech_channels(clips: Sequence[tuple[np.ndarray, np.ndarray]],
                            min_partial: float = 0.2, min_std: float = 0.01,
                            ) -> tuple[tuple[str, ...], list[list[SpeechChannelStats]]]:
    """Choose the speech channels from talking clips (rule in the module docstring).

    Args:
        clips: (blendshapes (T, 52), lip_gap (T,)) per clip.

    Returns:
        (chosen names with jawOpen first, per-clip statistics).
    """
    stats = [channel_stats(b, g) for b, g in clips]
    chosen = ["jawOpen"]
    for j, s0 in enumerate(stats[0]):
        if s0.name == "jawOpen":
            continue
        per = [s[j] for s in stats]
        parts = np.array([p.r_partial for p in per])
        same_sign = bool(np.all(parts > 0) or np.all(parts < 0))
        strong = bool(np.all(np.abs(np.nan_to_num(parts)) >= min_partial))
        moves = max(p.std for p in per) >= min_std
        if same_sign and strong and moves:
            chosen.append(s0.name)
    return tuple(chosen), stats


def speech_indices(names: Sequence[str], speech: Sequence[str] = SPEECH_CHANNELS) -> list[int]:
    """Indices of the speech channels within ``names`` (those present, in speech order)."""
    idx = [list(names).index(n) for n in speech if n in names]
    if not idx:
        raise NedError("none of the speech channels is among the expression channels")
    return idx


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D series (nan if either is constant)."""
    return _corr(np.asarray(a, np.float64), np.asarray(b, np.float64))
