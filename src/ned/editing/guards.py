"""Guards that keep edits safe on real footage: the edited time range, head pose, lost
faces, cuts and closed eyes. Pure functions over per-frame arrays. (Folded geometry is
handled by :func:`ned.facemodel.deform.fold_free`.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ned.blendshapes import index_of

BLINKS = (index_of("eyeBlinkLeft"), index_of("eyeBlinkRight"))
#: Per eye: channels that open or narrow the lids (limited while the eye is closed).
LID_CHANNELS = ((index_of("eyeWideLeft"), index_of("eyeSquintLeft")),
                (index_of("eyeWideRight"), index_of("eyeSquintRight")))


@dataclass(frozen=True)
class GuardConfig:
    """Thresholds of the guards.

    Attributes:
        yaw_limits: |yaw| in degrees where the edit starts fading and where it is gone.
        pitch_limits: the same for |pitch|.
        gap_ramp: frames over which an edit fades in after / out before a frame without
            a face or a shot cut.
        closed_lid: eyeBlink score from which an eye counts as closing (lid edits fade
            out between this and ``closed_lid + 0.15``).
    """

    yaw_limits: tuple[float, float] = (25.0, 40.0)
    pitch_limits: tuple[float, float] = (20.0, 35.0)
    gap_ramp: int = 4
    closed_lid: float = 0.25


def head_angles(transforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch (degrees) from the landmarker's face transformation matrices.

    Args:
        transforms: (T, 4, 4) canonical-face -> camera transforms.

    Returns:
        (yaw, pitch), each (T,) degrees; 0 for a frontal face.
    """
    r = np.asarray(transforms, np.float64)[:, :3, :3]
    r = r / np.maximum(np.cbrt(np.abs(np.linalg.det(r)))[:, None, None], 1e-9)
    yaw = np.degrees(np.arctan2(r[:, 0, 2], r[:, 2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-r[:, 1, 2], -1.0, 1.0)))
    return yaw, pitch


def raised_cosine(x: np.ndarray) -> np.ndarray:
    """The edit's ramp shape: 0 for x <= 0, 1 for x >= 1, a raised cosine between.

    Args:
        x: (N,) float array (its dtype is kept).

    Returns:
        (N,) values in [0, 1].
    """
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0, 1))


def range_weights(timestamps: np.ndarray, start: float | None, end: float | None,
                  ramp: float) -> np.ndarray:
    """Per-frame edit strength of a time range, with raised-cosine ramps at its ends.

    Args:
        timestamps: (T,) seconds.
        start, end: edited range in seconds (None = open).
        ramp: ramp length in seconds (0 = hard switch).

    Returns:
        (T,) float32 in [0, 1].
    """
    t = np.asarray(timestamps, np.float64)
    w = np.ones_like(t)
    if start is not None:
        w = np.minimum(w, raised_cosine((t - start) / ramp if ramp > 0
                                        else np.sign(t - start + 1e-9)))
    if end is not None:
        w = np.minimum(w, raised_cosine((end - t) / ramp if ramp > 0
                                        else np.sign(end - t + 1e-9)))
    return w.astype(np.float32)


def _fade(x: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    lo, hi = limits
    return raised_cosine((hi - np.abs(x)) / max(hi - lo, 1e-6))


def pose_weights(transforms: np.ndarray, valid: np.ndarray, cfg: GuardConfig) -> np.ndarray:
    """(T,) in [0, 1]: 1 for a frontal face, fading smoothly to 0 past the pose limits."""
    yaw, pitch = head_angles(transforms)
    w = np.minimum(_fade(yaw, cfg.yaw_limits), _fade(pitch, cfg.pitch_limits))
    return np.where(valid, w, 0.0).astype(np.float32)


def segments(valid: np.ndarray, cuts: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Runs [a, b) of consecutive valid frames, also split at shot cuts.

    Args:
        valid: (T,) bool.
        cuts: frame indices where a new shot starts.

    Returns:
        The runs, in order.
    """
    v = np.asarray(valid, bool)
    split = np.zeros(len(v) + 1, bool)
    if cuts is not None and len(cuts):
        split[np.clip(np.asarray(cuts, int), 0, len(v))] = True
    runs, start = [], None
    for i, ok in enumerate(v):
        if start is not None and (not ok or split[i]):
            runs.append((start, i))
            start = None
        if ok and start is None:
            start = i
    if start is not None:
        runs.append((start, len(v)))
    return runs


def gap_weights(valid: np.ndarray, cuts: np.ndarray | None, ramp: int) -> np.ndarray:
    """(T,) in [0, 1]: edits fade in after and out before every gap in the face over
    ``ramp`` frames (a run shorter than the ramps peaks below 1); not at the clip's ends
    nor at a cut (nothing precedes the first frame of a shot to fade from)."""
    v = np.asarray(valid, bool)
    w = np.zeros(len(v), np.float32)
    far = np.iinfo(np.int32).max
    for a, b in segments(v, cuts):
        i = np.arange(a, b)
        since = i - a + 1 if a > 0 and not v[a - 1] else far
        until = b - i if b < len(v) and not v[b] else far
        w[a:b] = edge_ramp(np.minimum(since, until), ramp)
    return w


def edge_ramp(d: np.ndarray, ramp: int) -> np.ndarray:
    """Raised-cosine edit strength of frames ``d`` frames (>= 1) from the nearer end of
    their run of face frames: rises over ``ramp`` frames (0 = none).

    Args:
        d: (N,) distances in frames.
        ramp: ramp length in frames.

    Returns:
        (N,) float32 in (0, 1].
    """
    d = np.asarray(d, np.float32)
    if not ramp:
        return np.ones_like(d)
    return raised_cosine(d / (ramp + 1)).astype(np.float32)


def keep_lid_state(old: np.ndarray, new: np.ndarray, cfg: GuardConfig) -> np.ndarray:
    """Keep blinks as measured and stop lid edits on closing eyes.

    Blinks are kept like speech (the eyeBlink channels are copied from the input); the
    lid-opening and narrowing channels of an eye fade back to the input as its blink
    score rises past ``closed_lid``, so a closed eye stays closed.

    Args:
        old: (T, 52) measured blendshapes.
        new: (T, 52) edited blendshapes.
        cfg: thresholds.

    Returns:
        (T, 52) float32 edited blendshapes with the lid guards applied.
    """
    out = np.array(new, np.float32, copy=True)
    closed = lids_closing(old, cfg)
    for eye, (blink, lids) in enumerate(zip(BLINKS, LID_CHANNELS)):
        out[:, blink] = old[:, blink]
        c = closed[:, eye:eye + 1]
        out[:, lids] = out[:, lids] * (1 - c) + old[:, lids] * c
    return out


def lids_closing(old: np.ndarray, cfg: GuardConfig) -> np.ndarray:
    """(T, 2) how far each eye (the *Left, then the *Right channels) has closed past
    ``closed_lid``: 0 open, 1 closed (its lid edits are gone).

    Args:
        old: (T, 52) measured blendshapes.
        cfg: thresholds.
    """
    b = np.asarray(old, np.float32)[:, list(BLINKS)]
    return np.clip((b - cfg.closed_lid) / 0.15, 0.0, 1.0)
