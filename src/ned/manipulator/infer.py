"""Inference: translate a clip's expression vectors to an emotion or a reference's style.

Library API used by the edit pipeline::

    manip = load_manipulator()                       # the shipped default
    out = translate(manip, expressions, valid, emotion="happy", intensity=1.0, seed=0)
    out = translate(manip, expressions, valid, reference=ref_expressions)
    out = translate(manip, expressions, valid,
                    targets=[Target(0, 60, emotion="sad"), Target(60, 120, emotion="happy")])

Windows of N frames slide with stride 1 over each run of valid frames; every window's
output is weighted by a Gaussian (``cv2.getGaussianKernel(N, -1)``) and the overlaps are
normalised by the summed weights, as in the reference. Invalid frames pass through
unchanged. The style of a window is ``E(window) + intensity * (s_target - E(window))``:
intensity 0 reproduces the clip's own style (self-translation), 1 the target, up to 1.5
extrapolates.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from ned.blendshapes import BLENDSHAPE_NAMES, EMOTIONS, INTENSITY_RANGE, N_BLENDSHAPES
from ned.checkpoint import load_arrays, read_checkpoint_meta
from ned.errors import NedError
from ned.manipulator.netconfig import NetConfig
from ned.manipulator.numpy_nets import Encoder, Mapper, Translator, seeded_normal, split_modules
from ned.manipulator.speech import speech_indices

DEFAULT_NAME = "manipulator_default"


@dataclass
class Manipulator:
    """A loaded inference model: G, E, M (NumPy, :mod:`ned.manipulator.numpy_nets`) plus
    its metadata."""

    G: Translator
    E: Encoder
    M: Mapper
    net: NetConfig
    names: tuple[str, ...]
    speech_channels: tuple[str, ...]
    window: int
    meta: dict
    path: Path

    @property
    def speech_idx(self) -> list[int]:
        return speech_indices(self.names, self.speech_channels)


@dataclass(frozen=True)
class Target:
    """One target over frames [start, stop): an emotion name or reference expressions."""

    start: int
    stop: int
    emotion: str | None = None
    reference: np.ndarray | None = None
    intensity: float = 1.0


def default_path() -> Path:
    """Path (stem, no suffix) of the shipped default checkpoint."""
    return Path(str(resources.files("ned") / "assets" / DEFAULT_NAME))


def load_manipulator(path: str | os.PathLike | None = None) -> Manipulator:
    """Load a manipulator checkpoint (``.safetensors`` + ``.json``); None = shipped default.

    Raises:
        NedError: missing file, not a manipulator checkpoint, or weights that do not fit.
    """
    stem = default_path() if path is None else Path(path)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    meta = read_checkpoint_meta(stem)
    if not isinstance(meta, dict) or meta.get("format") != "ned-manipulator":
        raise NedError(f"{stem}.json is not a ned manipulator checkpoint")
    net, window, names, speech = check_meta(meta, f"{stem}.json")
    tensors = split_modules(load_arrays(stem))
    build = {"G": lambda t: Translator(t, net.residual), "E": Encoder, "M": Mapper}
    mods = {}
    x = np.zeros((1, window, net.exp_dim), np.float32)
    for name, make in build.items():
        try:  # a dry run checks every shape
            mods[name] = make(tensors[name])
            if name == "G":
                out = mods[name](x, np.zeros((1, net.style_dim), np.float32))
                want = x.shape
            elif name == "E":
                out, want = mods[name](x), (1, net.style_dim)
            else:
                out = mods[name](np.zeros((1, net.latent_dim), np.float32), [0])
                want = (1, net.style_dim)
            if out.shape != want:
                raise ValueError(f"output {out.shape}, expected {want}")
        except (KeyError, ValueError, IndexError) as e:
            raise NedError(f"{stem}.safetensors: weights of {name} do not fit the config "
                           f"({e.__class__.__name__}: {str(e)[:120]})") from None
    return Manipulator(G=mods["G"], E=mods["E"], M=mods["M"], net=net, names=names,
                       speech_channels=speech, window=window, meta=meta, path=stem)


#: Longest window a checkpoint may ask for (frames; the reference uses 10).
MAX_WINDOW = 1000


def check_meta(meta: dict, where: str) -> tuple[NetConfig, int, tuple[str, ...],
                                                tuple[str, ...]]:
    """Validate a manipulator checkpoint's config: network sizes (positive integers),
    ``window`` (1 to :data:`MAX_WINDOW` frames), ``names`` (one distinct name per
    expression channel: with 52 channels the MediaPipe blendshapes, in order) and
    ``speech_channels`` (distinct names out of ``names``).

    Args:
        meta: the checkpoint JSON's ``meta``.
        where: the file, for the messages.

    Returns:
        (net config, window, names, speech channels).

    Raises:
        NedError: the first bad value, named.
    """
    def bad(what: str) -> NedError:
        return NedError(f"{where}: {what}")

    net_d = meta.get("net")
    if not isinstance(net_d, dict):
        raise bad('"net" must be a mapping of network sizes')
    fields = NetConfig.__dataclass_fields__
    unknown = sorted(set(net_d) - set(fields))
    if unknown:
        raise bad(f'unknown network setting "net.{unknown[0]}"')
    for k, v in net_d.items():
        if k == "residual":
            if not isinstance(v, bool):
                raise bad(f'"net.residual" must be true or false, got {v!r}')
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(f'"net.{k}" must be a positive integer, got {v!r}')
    net = NetConfig(**net_d)
    window = meta.get("window")
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW:
        raise bad(f'"window" must be an integer from 1 to {MAX_WINDOW} frames, got {window!r}')
    names = meta.get("names")
    if (not isinstance(names, list) or not all(isinstance(n, str) and n for n in names)):
        raise bad('"names" must be a list of channel names')
    if len(names) != net.exp_dim:
        raise bad(f'"names" has {len(names)} names for {net.exp_dim} channels')
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise bad(f'"names" lists {dup!r} twice')
    if net.exp_dim == N_BLENDSHAPES and tuple(names) != tuple(BLENDSHAPE_NAMES):
        wrong = next(n for n, b in zip(names, BLENDSHAPE_NAMES) if n != b)
        raise bad(f'"names" must be the {N_BLENDSHAPES} MediaPipe blendshapes in their order '
                  f"(ned.blendshapes.BLENDSHAPE_NAMES); {wrong!r} is not")
    speech = meta.get("speech_channels")
    if not isinstance(speech, list) or not speech or not all(isinstance(n, str) for n in speech):
        raise bad('"speech_channels" must be a non-empty list of channel names')
    strange = [n for n in speech if n not in names]
    if strange:
        raise bad(f'speech channel {strange[0]!r} is not among "names"')
    if len(set(speech)) != len(speech):
        raise bad('"speech_channels" lists a channel twice')
    return net, window, tuple(names), tuple(speech)


def geometric_median(points: np.ndarray, eps: float = 1e-5, max_iter: int = 500) -> np.ndarray:
    """Geometric median (Weiszfeld), starting at the mean, as in the reference.

    Args:
        points: (K, D) float points, K >= 1.
        eps: stop when the estimate moves less than this.

    Returns:
        (D,) float64 point minimising the summed Euclidean distance to ``points``.
    """
    pts = np.asarray(points, np.float64)
    if pts.ndim != 2 or len(pts) == 0:
        raise NedError(f"geometric median needs (K>=1, D) points, got shape {pts.shape}")
    y = pts.mean(axis=0)
    for _ in range(max_iter):
        d = np.linalg.norm(pts - y, axis=1)
        off = d > 1e-12
        if not off.any():
            return y
        inv = 1.0 / d[off]
        t = (pts[off] * inv[:, None]).sum(0) / inv.sum()
        n_on = int((~off).sum())
        if n_on == 0:
            y_new = t
        else:  # the estimate sits on data points (Vardi-Zhang step)
            r = float(np.linalg.norm((t - y) * inv.sum()))
            rinv = 0.0 if r == 0 else n_on / r
            y_new = max(0.0, 1 - rinv) * t + min(1.0, rinv) * y
        if np.linalg.norm(y_new - y) < eps:
            return y_new
        y = y_new
    return y


#: Windows per forward pass at inference.
BATCH = 512


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of consecutive True values."""
    v = np.r_[False, valid, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(v))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _windows(x: np.ndarray, n: int) -> np.ndarray:
    """(T, E) -> (T-n+1, n, E) stride-1 windows (T >= n)."""
    return np.lib.stride_tricks.sliding_window_view(x, n, axis=0).transpose(0, 2, 1)


def window_styles(manip: Manipulator, expressions: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """E of every full window inside the valid runs: (K, S) float32 (K may be 0)."""
    n, out = manip.window, []
    for a, b in _runs(valid):
        if b - a >= n:
            wins = _windows(expressions[a:b], n)
            for k in range(0, len(wins), BATCH):  # bounded memory on long clips
                out.append(manip.E(np.array(wins[k:k + BATCH])))
    return np.concatenate(out) if out else np.zeros((0, manip.net.style_dim), np.float32)


def reference_style(manip: Manipulator, reference: np.ndarray,
                    valid: np.ndarray | None = None) -> np.ndarray:
    """Style of a reference clip: geometric median of its window styles. (S,) float32."""
    ref = _check_expressions(manip, reference, "reference")
    v = np.ones(len(ref), bool) if valid is None else np.asarray(valid, bool)
    styles = window_styles(manip, ref, v)
    if len(styles) == 0:
        raise NedError(f"the reference has no run of {manip.window} valid frames "
                       f"({int(v.sum())} valid frames)")
    return geometric_median(styles).astype(np.float32)


def label_style(manip: Manipulator, emotion: str, seed: int = 0) -> np.ndarray:
    """Style of an emotion from the mapping network with a seeded latent. (S,) float32.

    The latent is the training code's ``torch.randn(1, Z)`` after ``manual_seed(seed)``
    (:func:`ned.manipulator.numpy_nets.seeded_normal`).
    """
    if emotion not in EMOTIONS:
        raise NedError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    z = seeded_normal(int(seed), manip.net.latent_dim)[None]
    return manip.M(z, [EMOTIONS.index(emotion)])[0]


def _check_expressions(manip: Manipulator, x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != manip.net.exp_dim:
        raise NedError(f"{what} has shape {x.shape}; this manipulator expects (T, "
                       f"{manip.net.exp_dim})")
    if not np.isfinite(x).all():
        raise NedError(f"{what} contains NaN or infinite values")
    return x.astype(np.float32)


def translate_run(manip: Manipulator, x: np.ndarray, s_trg: np.ndarray,
                  intensity: float) -> np.ndarray:
    """Translate one run of valid frames towards a target style.

    Every window of N (``manip.window``) frames is translated and the overlapping outputs
    are averaged with Gaussian weights, so frame k depends only on frames k-N+1 .. k+N-1
    of its run: a piece of a run translated with N-1 frames of context on both sides
    (clipped to the run) gives exactly the frames of the whole run.

    Args:
        manip: a loaded manipulator.
        x: (T, E) float32 expressions of the run (T >= 1; padded by edge repetition when
            T < N).
        s_trg: (S,) float32 target style (:func:`label_style`, :func:`reference_style`).
        intensity: 0 = the run's own style, 1 = the target style.

    Returns:
        (T, E) float32 translated expressions (not clipped).
    """
    n, t = manip.window, len(x)
    xp = np.concatenate([x, np.repeat(x[-1:], n - t, axis=0)]) if t < n else x
    wins = _windows(xp, n)
    g = cv2.getGaussianKernel(n, -1).astype(np.float64)[:, 0]
    acc = np.zeros((len(xp), x.shape[1]))
    wsum = np.zeros((len(xp), 1))
    target = np.asarray(s_trg, np.float32)[None]
    for k0 in range(0, len(wins), BATCH):  # windows in batches: bounded memory on long clips
        w = np.array(wins[k0:k0 + BATCH])
        if intensity == 1.0:  # the target itself: E's work (a quarter of the cost) is not needed
            s = np.repeat(target, len(w), axis=0)
        else:
            s_own = manip.E(w)
            s = s_own + np.float32(intensity) * (target - s_own)
        y = manip.G(w, s)
        for j in range(len(y)):
            k = k0 + j
            acc[k:k + n] += g[:, None] * y[j]
            wsum[k:k + n] += g[:, None]
    return (acc / wsum)[:t].astype(np.float32)


def translate(manip: Manipulator, expressions: np.ndarray, valid: np.ndarray, *,
              emotion: str | None = None, reference: np.ndarray | None = None,
              reference_valid: np.ndarray | None = None, intensity: float = 1.0, seed: int = 0,
              targets: Sequence[Target] | None = None, clip: bool = True) -> np.ndarray:
    """Translate a clip's expression vectors.

    Args:
        manip: a loaded manipulator (:func:`load_manipulator`).
        expressions: (T, E) float32 expression vectors (E = manip.net.exp_dim).
        valid: (T,) bool; invalid frames are returned unchanged and split the clip into runs.
        emotion: target emotion name (label mode), or
        reference: (T2, E) expressions of a reference clip (reference mode; style =
            geometric median of its window styles), with optional ``reference_valid`` (T2,).
        intensity: in [0, 1.5]; 0 = the clip's own style, 1 = the target style.
        seed: seed of the latent in label mode (same seed, same output, bit for bit).
        targets: several targets over frame ranges instead of emotion/reference.
        clip: clip the output to [0, 1] (blendshape scores).

    Returns:
        (T, E) float32 translated expressions.
    """
    x = _check_expressions(manip, expressions, "expressions")
    v = np.asarray(valid, bool)
    if v.shape != (len(x),):
        raise NedError(f"valid has shape {v.shape}, expected ({len(x)},)")
    if targets is None:
        if (emotion is None) == (reference is None):
            raise NedError("give exactly one of an emotion or a reference")
        targets = [Target(0, len(x), emotion=emotion, reference=reference, intensity=intensity)]
    out = x.copy()
    for tg in targets:
        _check_target(tg, len(x))
        if tg.emotion is not None:
            s = label_style(manip, tg.emotion, seed)
        else:
            s = reference_style(manip, tg.reference, reference_valid)
        for a, b in _runs(v[tg.start:tg.stop]):
            a, b = a + tg.start, b + tg.start
            out[a:b] = translate_run(manip, x[a:b], s, tg.intensity)
    return np.clip(out, 0.0, 1.0) if clip else out


def _check_target(tg: Target, t: int) -> None:
    lo, hi = INTENSITY_RANGE
    if not lo <= float(tg.intensity) <= hi:
        raise NedError(f"intensity {tg.intensity} is outside [{lo}, {hi}]")
    if not 0 <= tg.start < tg.stop <= t:
        raise NedError(f"target range [{tg.start}, {tg.stop}) is not inside [0, {t})")
    if (tg.emotion is None) == (tg.reference is None):
        raise NedError("each target needs exactly one of an emotion or a reference")
    if tg.emotion is not None and tg.emotion not in EMOTIONS:
        raise NedError(f"unknown emotion {tg.emotion!r}; choose one of {', '.join(EMOTIONS)}")
