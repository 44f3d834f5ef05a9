"""Seeded synthetic emotion dataset: real speech tracks + FACS emotion patterns.

Each sample is a window of N frames of the 52 MediaPipe blendshapes, built as

    value = clip(baseline + speech + envelope(t) * prototype[emotion] * gains + noise, 0, 1)

- speech (the measured speech channels, ``speech.SPEECH_CHANNELS``): a window of a real
  talking track (random clip, random start, time-stretched x0.75-1.33, amplitude x0.7-1.4
  around its minimum), or, for ``procedural_fraction`` of the samples, a procedural track
  (syllable bumps every 4-9 frames, random amplitude and pauses) whose other speech channels
  follow jawOpen through per-channel slopes fitted on the real tracks.
- baseline: the person's resting state: small random levels on the live non-speech
  channels, an eye-gaze offset, occasional blinks; dead channels (exactly 0 in MediaPipe's
  output: cheekPuff, cheekSquint*, noseSneer*) stay 0.
- prototype: FACS-based channel offsets of the six basic emotions (table ``PROTOTYPES``;
  neutral = none). Nose wrinkle and cheek raise cannot be expressed (dead outputs), so
  disgust uses the upper-lip raise (mouthUpperUp) with brow lowering and lid tightening,
  and happy uses the lip-corner pull with eyeSquint.
- envelope: intensity level U(0.4, 1.0) times an onset/offset ramp (a random piece of a
  smoothstep rise or fall staying within [0.55, 1]).
- gains: per-channel jitter x U(0.8, 1.2) and left/right asymmetry (1 +- a, |a| <= 0.25).
- noise: Gaussian (sd 0.012), smoothed over 3 frames.

:func:`synthetic_batch` also returns, for training, a paired target (the same speech and
baseline with the target emotion) and a reference window (another speech track and
baseline with the same target emotion and the same pattern parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from ned.blendshapes import BLENDSHAPE_NAMES, EMOTIONS, INDEX
from ned.errors import NedError
from ned.manipulator.speech import SPEECH_CHANNELS

DEAD_CHANNELS = ("cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
                 "noseSneerRight")

#: Channel offsets at full intensity, per emotion (FACS prototypes, measurable channels).
PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmileLeft": 0.7, "mouthSmileRight": 0.7, "eyeSquintLeft": 0.35,
              "eyeSquintRight": 0.35, "mouthDimpleLeft": 0.1, "mouthDimpleRight": 0.1},
    "sad": {"browInnerUp": 0.55, "mouthFrownLeft": 0.35, "mouthFrownRight": 0.35,
            "browDownLeft": 0.1, "browDownRight": 0.1},
    "surprised": {"browInnerUp": 0.5, "browOuterUpLeft": 0.6, "browOuterUpRight": 0.6,
                  "eyeWideLeft": 0.45, "eyeWideRight": 0.45},
    "fear": {"browInnerUp": 0.55, "browOuterUpLeft": 0.3, "browOuterUpRight": 0.3,
             "browDownLeft": 0.25, "browDownRight": 0.25, "eyeWideLeft": 0.45,
             "eyeWideRight": 0.45, "mouthStretchLeft": 0.4, "mouthStretchRight": 0.4},
    "angry": {"browDownLeft": 0.6, "browDownRight": 0.6, "eyeSquintLeft": 0.4,
              "eyeSquintRight": 0.4, "mouthPressLeft": 0.4, "mouthPressRight": 0.4},
    "disgusted": {"mouthUpperUpLeft": 0.4, "mouthUpperUpRight": 0.4, "browDownLeft": 0.3,
                  "browDownRight": 0.3, "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2,
                  "mouthShrugUpper": 0.2},
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Options of the synthetic generator (defaults produce the shipped model's data)."""

    window: int = 10
    procedural_fraction: float = 0.5
    level_range: tuple[float, float] = (0.4, 1.0)
    asymmetry: float = 0.25
    gain_jitter: float = 0.2
    noise: float = 0.012
    blink_prob: float = 0.3


def prototype_matrix(names: Sequence[str] = BLENDSHAPE_NAMES) -> np.ndarray:
    """(7, E) float32 channel offsets of ``PROTOTYPES`` in ``EMOTIONS`` order."""
    out = np.zeros((len(EMOTIONS), len(names)), np.float32)
    for k, emo in enumerate(EMOTIONS):
        for ch, v in PROTOTYPES[emo].items():
            out[k, list(names).index(ch)] = v
    return out


def _lr_sign() -> np.ndarray:
    """(52,) +1 for *Left channels, -1 for *Right, 0 otherwise (for asymmetry)."""
    return np.array([1.0 if n.endswith("Left") else -1.0 if n.endswith("Right") else 0.0
                     for n in BLENDSHAPE_NAMES], np.float32)


class SyntheticEmotionData:
    """Generator of synthetic windows from real speech tracks.

    Args:
        speech_tracks: real talking tracks, each (T, 52) float32 blendshapes (valid frames),
            T >= window.
        config: generator options.
    """

    def __init__(self, speech_tracks: Sequence[np.ndarray],
                 config: SyntheticConfig = SyntheticConfig()) -> None:
        if not speech_tracks:
            raise NedError("the synthetic generator needs at least one real speech track")
        for t in speech_tracks:
            if t.ndim != 2 or t.shape[1] != len(BLENDSHAPE_NAMES) or len(t) < config.window:
                raise NedError(f"speech track of shape {t.shape}: expected (T>={config.window}, "
                               f"{len(BLENDSHAPE_NAMES)})")
        self.cfg = config
        self.tracks = [np.asarray(t, np.float32) for t in speech_tracks]
        self.speech_idx = np.array([INDEX[n] for n in SPEECH_CHANNELS])
        self.proto = prototype_matrix()
        self.dead = np.array([INDEX[n] for n in DEAD_CHANNELS])
        self.lr = _lr_sign()
        self.live_other = np.array([i for i in range(1, len(BLENDSHAPE_NAMES))
                                    if i not in set(self.speech_idx) | set(self.dead)])
        self.slopes, self.rest = self._fit_speech_slopes()

    def _fit_speech_slopes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per speech channel: slope on jawOpen (high-passed) and resting level (median)."""
        x = np.concatenate([t - uniform_filter1d(t, 9, axis=0, mode="nearest")
                            for t in self.tracks])[:, self.speech_idx]
        jaw = x[:, 0]
        slopes = (x * jaw[:, None]).sum(0) / max(float((jaw * jaw).sum()), 1e-9)
        slopes[0] = 1.0
        rest = np.median(np.concatenate(self.tracks)[:, self.speech_idx], axis=0)
        rest[0] = 0.0
        return slopes.astype(np.float32), np.minimum(rest, 0.15).astype(np.float32)

    # --- speech -------------------------------------------------------------------------
    def _real_speech(self, rng: np.random.Generator) -> np.ndarray:
        n = self.cfg.window
        track = self.tracks[rng.integers(len(self.tracks))][:, self.speech_idx]
        speed = float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))
        span = (n - 1) * speed
        start = rng.uniform(0, max(len(track) - 1 - span, 0))
        pos = np.clip(start + np.arange(n) * speed, 0, len(track) - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, len(track) - 1)
        w = (pos - lo)[:, None]
        seg = track[lo] * (1 - w) + track[hi] * w
        base = track.min(axis=0)
        return base + (seg - base) * rng.uniform(0.7, 1.4)

    def _procedural_speech(self, rng: np.random.Generator) -> np.ndarray:
        n = self.cfg.window
        t = np.arange(-12, n + 12)
        jaw = np.zeros(len(t))
        pos = float(rng.uniform(-12, -4))
        while pos < n + 12:
            if rng.random() > 0.15:  # 15% pauses
                width = rng.uniform(1.5, 3.0)
                jaw += rng.uniform(0.05, 0.45) * np.exp(-0.5 * ((t - pos) / width) ** 2)
            pos += rng.uniform(4, 9)
        jaw = jaw[12:12 + n]
        s = self.rest + np.outer(jaw, self.slopes)
        s += rng.normal(0, 0.01, s.shape)
        return s

    # --- patterns -----------------------------------------------------------------------
    def _pattern_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n, e = self.cfg.window, len(BLENDSHAPE_NAMES)
        level = rng.uniform(*self.cfg.level_range)
        a, b = sorted(rng.uniform(0.55, 1.0, 2))
        u = np.linspace(0.0, 1.0, n)
        rise = 3 * u**2 - 2 * u**3  # smoothstep: onset, or reversed for an offset
        ramp = a + (b - a) * (rise if rng.random() < 0.5 else rise[::-1])
        gains = rng.uniform(1 - self.cfg.gain_jitter, 1 + self.cfg.gain_jitter, e)
        gains *= 1 + self.lr * rng.uniform(-self.cfg.asymmetry, self.cfg.asymmetry)
        return {"envelope": (level * ramp).astype(np.float32), "gains": gains.astype(np.float32)}

    def _baseline(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(resting levels (E,), per-frame additive events + noise (N, E))."""
        n, e = self.cfg.window, len(BLENDSHAPE_NAMES)
        rest = np.zeros(e, np.float32)
        rest[self.live_other] = rng.uniform(0, 0.12, len(self.live_other))
        for pair in (("eyeLookDownLeft", "eyeLookDownRight"), ("eyeLookUpLeft", "eyeLookUpRight"),
                     ("eyeLookInLeft", "eyeLookOutRight"), ("eyeLookOutLeft", "eyeLookInRight")):
            v = rng.uniform(0, 0.5) if rng.random() < 0.5 else 0.0
            rest[[INDEX[pair[0]], INDEX[pair[1]]]] += v
        events = uniform_filter1d(rng.normal(0, self.cfg.noise, (n, e)), 3, axis=0)
        if rng.random() < self.cfg.blink_prob:
            c, depth = rng.uniform(0, n), rng.uniform(0.5, 0.9)
            blink = depth * np.exp(-0.5 * ((np.arange(n) - c) / 1.0) ** 2)
            events[:, [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]] += blink[:, None]
        events[:, self.dead] = 0.0
        return rest, events.astype(np.float32)

    def compose(self, speech: np.ndarray, rest: np.ndarray, events: np.ndarray, emotion: int,
                params: dict[str, np.ndarray]) -> np.ndarray:
        """One (N, 52) window from its parts (see the module docstring)."""
        x = np.broadcast_to(rest, events.shape).copy()
        x[:, self.speech_idx] += speech
        x += params["envelope"][:, None] * (self.proto[emotion] * params["gains"])[None]
        x += events
        x[:, self.dead] = 0.0
        x[:, 0] = 0.0  # MediaPipe's _neutral output is ~0 on faces
        return np.clip(x, 0.0, 1.0).astype(np.float32)

    def _speech(self, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < self.cfg.procedural_fraction:
            return self._procedural_speech(rng)
        return self._real_speech(rng)

    def sample(self, rng: np.random.Generator, emotion: int) -> np.ndarray:
        """One (N, 52) window of the given emotion index."""
        rest, events = self._baseline(rng)
        return self.compose(self._speech(rng), rest, events, emotion, self._pattern_params(rng))


def synthetic_batch(data: SyntheticEmotionData, rng: np.random.Generator, batch: int,
                    ) -> dict[str, np.ndarray]:
    """A training batch with paired targets.

    Returns:
        dict of float32/int64 arrays: ``x`` (B,N,52) source windows, ``y`` (B,) source
        emotion, ``y_trg`` (B,) target emotion, ``x_ref`` (B,N,52) reference windows of the
        target emotion (other speech and person), ``x_trg`` (B,N,52) the source's speech and
        person with the reference's emotion pattern (the paired target).
    """
    k = len(EMOTIONS)
    out: dict[str, list] = {"x": [], "y": [], "y_trg": [], "x_ref": [], "x_trg": []}
    for _ in range(batch):
        y, y_trg = int(rng.integers(k)), int(rng.integers(k))
        speech, (rest, events) = data._speech(rng), data._baseline(rng)
        p_src, p_trg = data._pattern_params(rng), data._pattern_params(rng)
        out["x"].append(data.compose(speech, rest, events, y, p_src))
        out["x_trg"].append(data.compose(speech, rest, events, y_trg, p_trg))
        rest2, events2 = data._baseline(rng)
        out["x_ref"].append(data.compose(data._speech(rng), rest2, events2, y_trg, p_trg))
        out["y"].append(y)
        out["y_trg"].append(y_trg)
    return {key: np.asarray(v, np.int64 if key.startswith("y") else np.float32)
            for key, v in out.items()}
