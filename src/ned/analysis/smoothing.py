"""Causal One-Euro smoothing of landmark, pose and blendshape series (streamed, per frame).

The One-Euro filter (Casiez et al., CHI 2012) low-passes a signal with a cutoff that rises
with its speed: slow drifts (jitter) are removed, fast motion (lips opening) passes with
little lag. Values are filtered in the units given; callers normalise (e.g. by the face
size) so that one configuration fits any resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    """One-Euro parameters.

    Attributes:
        min_cutoff: cutoff (Hz) at zero speed; lower removes more jitter.
        beta: how fast the cutoff rises with speed (per unit of the value per second).
        d_cutoff: cutoff (Hz) of the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Element-wise One-Euro filter over arrays of a fixed shape.

    Call :meth:`__call__` once per frame with the frame's value and time; :meth:`reset`
    after a gap (lost face, cut) so nothing is smoothed across it.
    """

    def __init__(self, config: OneEuroConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter one sample.

        Args:
            x: the value, any shape (kept between calls), float.
            t: its time in seconds (strictly increasing; equal times reuse dt = 1/30).

        Returns:
            The filtered value, same shape as ``x``, float64.
        """
        x = np.asarray(x, np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t if t > self._t else 1.0 / 30.0
        c = self.config
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(c.d_cutoff, dt) * (dx - self._dx)
        cutoff = c.min_cutoff + c.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


def jitter(series: np.ndarray) -> float:
    """Mean magnitude of the frame-to-frame second difference.

    Args:
        series: (T, ...) values over time, T >= 3.

    Returns:
        Mean absolute second difference (same units as the series).
    """
    series = np.asarray(series, np.float64)
    if len(series) < 3:
        raise ValueError("jitter needs at least 3 frames")
    return float(np.abs(np.diff(series, n=2, axis=0)).mean())


def orthonormalise(m: np.ndarray) -> np.ndarray:
    """Replace the 3x3 block of a 4x4 similarity transform by its nearest rotation times scale.

    Args:
        m: (4, 4) transform.

    Returns:
        (4, 4) transform whose linear part is a scaled rotation.
    """
    out = np.array(m, np.float64)
    a = out[:3, :3]
    scale = np.cbrt(abs(np.linalg.det(a))) or 1.0
    u, _, vt = np.linalg.svd(a / scale)
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    out[:3, :3] = r * scale
    return out
