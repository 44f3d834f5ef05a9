"""Seeded synthetic emotion dataset: real speech tracks + the FACS target table.

Prototypes: :data:`ned.facs.TARGETS` (emotion -> {group: level} at intensity 1), written per
channel (:data:`PROTOTYPES`: every channel of a group gets the group's level). A window is
built from parts:

- speech (the measured speech channels, ``speech.SPEECH_CHANNELS``): a window of a real
  talking track (random clip, random start, time-stretched x0.75-1.33, amplitude x0.7-1.4
  around its minimum), or, for ``procedural_fraction`` of the samples, a procedural track
  (syllable bumps every 4-9 frames, random amplitude and pauses) whose other speech channels
  follow jawOpen through per-channel slopes fitted on the real tracks. This is the
  speaker's *plain* speech (no emotion posture).
- baseline: the person's resting state: small random levels U(0, 0.12) on the live
  non-speech channels, for ``idio_prob`` of each emotion group a face's own resting level
  U(0.1, 0.5) (a squinting or brow-raised neutral face), for ``flash_prob`` of the windows a
  conversational brow raise (a bump of 0.3-0.9 on browInnerUp, 0.5-1 times that on
  browOuterUp), an eye-gaze offset, occasional blinks, smoothed noise; dead channels
  (exactly 0 in MediaPipe's output: cheekPuff, cheekSquint*, noseSneer*) stay 0.
- the emotion pattern: the emotion's non-speech groups are *set* to ``envelope(t) * level *
  gains`` (+ the noise); its speech group (mouthUpperUp, ``ned.facs.SPEECH_GROUPS``) gets a
  posture offset ``envelope(t) * (level - m) * gains`` added on top of the plain speech,
  where m is the training speaker's mean of that channel in plain speech (so a talking
  face's mean lands at the level). Source windows: envelope = a level U(0.2, 1.2) of the
  table times an onset/offset ramp (a piece of a smoothstep within [0.55, 1]); gains =
  per-channel x U(0.8, 1.2) and a left/right asymmetry 1 +- U(-0.25, 0.25).
- sources also carry, with probability ``mix_prob``, a second emotion at a low level
  (U(0.1, 0.35) of its table, added), and ``grin_prob`` of the happy sources are broad
  grins: smile U(0.6, 0.9) with a raised upper-lip posture U(0.35, 0.75) on mouthUpperUp and
  a lower-lip posture U(0.1, 0.35) on mouthLowerDown (teeth shown while talking).

Paired targets (:func:`synthetic_batch`) are *clean*: the source's plain speech and person,
every non-speech emotion-group channel brought down to min(its level, ``facs.REST``) (never
raised), no speech-channel posture but the target's own, then the target emotion:

- ``x_lab`` (label path): the target at its table level (envelope 1 x a window jitter
  U(0.95, 1.05), no ramp, no asymmetry);
- ``x_trg`` (reference path): the target at the reference window's own pattern parameters
  (its level, ramp, gains and, for a grin reference, its grin), so that reference mode
  reproduces the reference's levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from ned.blendshapes import BLENDSHAPE_NAMES, EMOTIONS, INDEX
from ned.errors import NedError
from ned.facs import GROUPS, REST, SPEECH_GROUPS, TARGETS
from ned.manipulator.speech import SPEECH_CHANNELS

DEAD_CHANNELS = ("cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
                 "noseSneerRight")

#: Channel levels at intensity 1, per emotion: :data:`ned.facs.TARGETS` per channel.
PROTOTYPES: dict[str, dict[str, float]] = {
    emo: {ch: float(level) for group, level in TARGETS[emo].items() for ch in GROUPS[group]}
    for emo in EMOTIONS
}
#: Channels of the emotion groups (``ned.facs.GROUPS``), non-speech and speech.
GROUP_CHANNELS: tuple[str, ...] = tuple(c for g in GROUPS for c in GROUPS[g]
                                        if g not in SPEECH_GROUPS)
SPEECH_GROUP_CHANNELS: tuple[str, ...] = tuple(c for g in SPEECH_GROUPS for c in GROUPS[g])
#: A broad grin's speech-channel postures (teeth shown while talking).
GRIN_UPPER = ("mouthUpperUpLeft", "mouthUpperUpRight")
GRIN_LOWER = ("mouthLowerDownLeft", "mouthLowerDownRight")


@dataclass(frozen=True)
class SyntheticConfig:
    """Options of the generator (defaults produce the shipped model's data)."""

    window: int = 10
    procedural_fraction: float = 0.5
    level_range: tuple[float, float] = (0.2, 1.2)
    asymmetry: float = 0.25
    gain_jitter: float = 0.2
    noise: float = 0.012
    blink_prob: float = 0.3
    mix_prob: float = 0.3
    mix_level: tuple[float, float] = (0.1, 0.35)
    grin_prob: float = 0.4
    grin_smile: tuple[float, float] = (0.6, 0.9)
    grin_upper: tuple[float, float] = (0.35, 0.75)
    grin_lower: tuple[float, float] = (0.1, 0.35)
    label_jitter: float = 0.05
    idio_prob: float = 0.2
    idio_level: tuple[float, float] = (0.1, 0.5)
    flash_prob: float = 0.2
    flash_level: tuple[float, float] = (0.3, 0.9)


def prototype_matrix(names: Sequence[str] = BLENDSHAPE_NAMES) -> np.ndarray:
    """(7, E) float32 channel levels of ``PROTOTYPES`` in ``EMOTIONS`` order."""
    out = np.zeros((len(EMOTIONS), len(names)), np.float32)
    for k, emo in enumerate(EMOTIONS):
        for ch, v in PROTOTYPES[emo].items():
            out[k, list(names).index(ch)] = v
    return out


def _lr_sign() -> np.ndarray:
    """(52,) +1 for *Left channels, -1 for *Right, 0 otherwise (for asymmetry)."""
    return np.array([1.0 if n.endswith("Left") else -1.0 if n.endswith("Right") else 0.0
                     for n in BLENDSHAPE_NAMES], np.float32)


def _idx(names: Sequence[str]) -> np.ndarray:
    return np.array([INDEX[n] for n in names], np.int64)


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
        self.speech_idx = _idx(SPEECH_CHANNELS)
        self.proto = prototype_matrix()
        self.dead = _idx(DEAD_CHANNELS)
        self.lr = _lr_sign()
        self.live_other = np.array([i for i in range(1, len(BLENDSHAPE_NAMES))
                                    if i not in set(self.speech_idx) | set(self.dead)])
        self.group_idx = _idx(GROUP_CHANNELS)
        self.speech_group_idx = _idx(SPEECH_GROUP_CHANNELS)
        self.smile_idx = _idx(GROUPS["mouthSmile"])
        self.grin_upper_idx, self.grin_lower_idx = _idx(GRIN_UPPER), _idx(GRIN_LOWER)
        self.slopes, self.rest = self._fit_speech_slopes()
        # plain-speech mean of the speech-group channels: the posture offset is level - mean
        allx = np.concatenate(self.tracks)
        self.speech_mean = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
        self.speech_mean[self.speech_group_idx] = allx[:, self.speech_group_idx].mean(0)
        self.posture = np.zeros_like(self.proto)
        self.posture[:, self.speech_group_idx] = np.maximum(
            self.proto[:, self.speech_group_idx] - self.speech_mean[self.speech_group_idx], 0.0)
        self.posture[self.proto == 0] = 0.0
        self.set_mask = np.zeros_like(self.proto, dtype=bool)  # channels set, not added
        self.set_mask[:, self.group_idx] = self.proto[:, self.group_idx] > 0

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

    def _speech(self, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < self.cfg.procedural_fraction:
            return self._procedural_speech(rng)
        return self._real_speech(rng)

    # --- patterns -----------------------------------------------------------------------
    def _gains(self, rng: np.random.Generator) -> np.ndarray:
        e = len(BLENDSHAPE_NAMES)
        gains = rng.uniform(1 - self.cfg.gain_jitter, 1 + self.cfg.gain_jitter, e)
        gains *= 1 + self.lr * rng.uniform(-self.cfg.asymmetry, self.cfg.asymmetry)
        return gains.astype(np.float32)

    def _pattern_params(self, rng: np.random.Generator, emotion: int) -> dict:
        """A source/reference pattern of ``emotion``: level x ramp, gains, maybe a grin."""
        n = self.cfg.window
        level = rng.uniform(*self.cfg.level_range)
        a, b = sorted(rng.uniform(0.55, 1.0, 2))
        u = np.linspace(0.0, 1.0, n)
        rise = 3 * u**2 - 2 * u**3  # smoothstep: onset, or reversed for an offset
        ramp = a + (b - a) * (rise if rng.random() < 0.5 else rise[::-1])
        p = {"emotion": emotion, "envelope": (level * ramp).astype(np.float32),
             "gains": self._gains(rng), "grin": None}
        if EMOTIONS[emotion] == "happy" and rng.random() < self.cfg.grin_prob:
            p["grin"] = (rng.uniform(*self.cfg.grin_smile), rng.uniform(*self.cfg.grin_upper),
                         rng.uniform(*self.cfg.grin_lower))
        return p

    def _label_params(self, rng: np.random.Generator, emotion: int) -> dict:
        """The label target: the table level with a small window jitter, no ramp."""
        j = rng.uniform(1 - self.cfg.label_jitter, 1 + self.cfg.label_jitter)
        return {"emotion": emotion, "envelope": np.full(self.cfg.window, j, np.float32),
                "gains": np.ones(len(BLENDSHAPE_NAMES), np.float32), "grin": None}

    def _mix_params(self, rng: np.random.Generator, emotion: int) -> dict | None:
        """A second, low-level emotion of a source window (or None)."""
        if rng.random() >= self.cfg.mix_prob:
            return None
        other = [k for k in range(1, len(EMOTIONS)) if k != emotion]
        e2 = int(other[rng.integers(len(other))])
        level = rng.uniform(*self.cfg.mix_level)
        return {"emotion": e2, "envelope": np.full(self.cfg.window, level, np.float32),
                "gains": self._gains(rng), "grin": None}

    def _baseline(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(resting levels (N, E), per-frame additive noise and blinks (N, E))."""
        n, e = self.cfg.window, len(BLENDSHAPE_NAMES)
        rest = np.zeros(e, np.float32)
        rest[self.live_other] = rng.uniform(0, 0.12, len(self.live_other))
        for group in GROUPS:  # a face's own resting level of an emotion group
            if group not in SPEECH_GROUPS and rng.random() < self.cfg.idio_prob:
                idx = _idx(GROUPS[group])
                rest[idx] = rng.uniform(*self.cfg.idio_level) * (
                    1 + self.lr[idx] * rng.uniform(-self.cfg.asymmetry, self.cfg.asymmetry))
        for pair in (("eyeLookDownLeft", "eyeLookDownRight"), ("eyeLookUpLeft", "eyeLookUpRight"),
                     ("eyeLookInLeft", "eyeLookOutRight"), ("eyeLookOutLeft", "eyeLookInRight")):
            v = rng.uniform(0, 0.5) if rng.random() < 0.5 else 0.0
            rest[[INDEX[pair[0]], INDEX[pair[1]]]] += v
        rest = np.repeat(rest[None], n, axis=0)
        if rng.random() < self.cfg.flash_prob:  # a conversational brow raise
            c, width = rng.uniform(-2, n + 2), rng.uniform(1.5, 3.0)
            bump = rng.uniform(*self.cfg.flash_level) * np.exp(
                -0.5 * ((np.arange(n) - c) / width) ** 2)
            rest[:, INDEX["browInnerUp"]] += bump
            rest[:, _idx(GROUPS["browOuterUp"])] += (rng.uniform(0.5, 1.0) * bump)[:, None]
        events = uniform_filter1d(rng.normal(0, self.cfg.noise, (n, e)), 3, axis=0)
        if rng.random() < self.cfg.blink_prob:
            c, depth = rng.uniform(0, n), rng.uniform(0.5, 0.9)
            blink = depth * np.exp(-0.5 * ((np.arange(n) - c) / 1.0) ** 2)
            events[:, [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]] += blink[:, None]
        events[:, self.dead] = 0.0
        return rest.astype(np.float32), events.astype(np.float32)

    def _apply(self, x: np.ndarray, events: np.ndarray, p: dict, absolute: bool) -> None:
        """Put the pattern ``p`` on ``x`` (N, E) in place (see the module docstring)."""
        k, env, gains = p["emotion"], p["envelope"][:, None], p["gains"][None]
        level = env * self.proto[k][None] * gains
        cols = np.flatnonzero(self.set_mask[k])
        if absolute:  # the emotion's own non-speech groups are set to its level
            x[:, cols] = level[:, cols] + events[:, cols]
        else:
            x[:, cols] += level[:, cols]
        x += env * self.posture[k][None] * gains  # speech-group posture, on top of the speech
        if p["grin"] is not None:
            smile, upper, lower = p["grin"]
            g = gains[0]
            x[:, self.smile_idx] = smile * g[self.smile_idx] + events[:, self.smile_idx]
            x[:, self.grin_upper_idx] += upper * g[self.grin_upper_idx]
            x[:, self.grin_lower_idx] += lower * g[self.grin_lower_idx]

    def compose(self, speech: np.ndarray, rest: np.ndarray, events: np.ndarray, pattern: dict,
                mix: dict | None = None, clean: bool = False) -> np.ndarray:
        """One (N, 52) window from its parts.

        Args:
            speech: (N, S) plain speech; rest, events: the baseline (:meth:`_baseline`),
                each (N, E).
            pattern: the emotion pattern (``emotion`` index, ``envelope`` (N,), ``gains``
                (E,), ``grin``).
            mix: an optional second emotion, added.
            clean: a paired target: every non-speech emotion-group channel first brought
                down to min(its level, REST).
        """
        x = rest + events
        x[:, self.speech_idx] += speech
        if clean:
            x[:, self.group_idx] = np.minimum(x[:, self.group_idx], REST)
        self._apply(x, events, pattern, absolute=True)
        if mix is not None:
            self._apply(x, events, mix, absolute=False)
        x[:, self.dead] = 0.0
        x[:, 0] = 0.0  # MediaPipe's _neutral output is ~0 on faces
        return np.clip(x, 0.0, 1.0).astype(np.float32)

    def sample(self, rng: np.random.Generator, emotion: int) -> np.ndarray:
        """One (N, 52) source window of the given emotion index."""
        rest, events = self._baseline(rng)
        return self.compose(self._speech(rng), rest, events, self._pattern_params(rng, emotion),
                            self._mix_params(rng, emotion))


def synthetic_batch(data: SyntheticEmotionData, rng: np.random.Generator, batch: int,
                    ) -> dict[str, np.ndarray]:
    """A training batch with paired targets.

    Returns:
        dict of float32/int64 arrays: ``x`` (B,N,52) source windows, ``y`` (B,) source
        emotion, ``y_trg`` (B,) target emotion, ``x_ref`` (B,N,52) reference windows of the
        target emotion (other speech and person), ``x_lab`` (B,N,52) the source's speech and
        person with the target emotion at its table level and the other emotions removed
        (label-path target), ``x_trg`` (B,N,52) the same at the reference's pattern
        parameters (reference-path target).
    """
    k = len(EMOTIONS)
    out: dict[str, list] = {"x": [], "y": [], "y_trg": [], "x_ref": [], "x_trg": [],
                            "x_lab": []}
    for _ in range(batch):
        y, y_trg = int(rng.integers(k)), int(rng.integers(k))
        speech, (rest, events) = data._speech(rng), data._baseline(rng)
        p_src, mix = data._pattern_params(rng, y), data._mix_params(rng, y)
        p_ref, p_lab = data._pattern_params(rng, y_trg), data._label_params(rng, y_trg)
        out["x"].append(data.compose(speech, rest, events, p_src, mix))
        out["x_lab"].append(data.compose(speech, rest, events, p_lab, clean=True))
        out["x_trg"].append(data.compose(speech, rest, events, p_ref, clean=True))
        rest2, events2 = data._baseline(rng)
        out["x_ref"].append(data.compose(data._speech(rng), rest2, events2, p_ref))
        out["y"].append(y)
        out["y_trg"].append(y_trg)
    return {key: np.asarray(v, np.int64 if key.startswith("y") else np.float32)
            for key, v in out.items()}
