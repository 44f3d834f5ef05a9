"""Linear expression rig: 52 blendshape coefficients -> offsets of the 478 canonical points.

``shape(b) = identity + sum_k b_k * offsets[k]`` in centimetres, canonical frame (x to the
subject's left, y up, z towards the camera). Every channel's offsets are confined to its
region (:mod:`ned.facemodel.regions`): ``offsets[k] = weights[k, :, None] * d[k]``.

The shipped rig (``ned/assets/rig_mediapipe.npz``) is built by ``scripts/build_rig.py``;
:func:`fit_offsets` is the estimator used both there and per clip by
:func:`ned.facemodel.fit.fit_track` (ridge regression of each vertex's motion on the
coefficients of the channels whose region covers it, shrunk towards a prior rig).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ned.atomic import atomic_write
from ned.blendshapes import BLENDSHAPE_NAMES
from ned.errors import NedError
from ned.topology import N_LANDMARKS

RIG_FILE = "rig_mediapipe.npz"


@dataclass(frozen=True)
class Rig:
    """A linear blendshape rig on the 478-point MediaPipe topology.

    Attributes:
        mean_shape: (478, 3) float32 cm, the template identity (canonical mesh + iris).
        offsets: (E, 478, 3) float32 cm per unit coefficient (E = 52).
        weights: (E, 478) float32 in [0, 1], the region of each channel.
        names: channel names (``ned.blendshapes.BLENDSHAPE_NAMES``).
        info: provenance and fit figures (JSON-able dict).
    """

    mean_shape: np.ndarray
    offsets: np.ndarray
    weights: np.ndarray
    names: tuple[str, ...] = BLENDSHAPE_NAMES
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        e = len(self.names)
        n = N_LANDMARKS
        if self.mean_shape.shape != (n, 3) or self.offsets.shape != (e, n, 3) \
                or self.weights.shape != (e, n):
            raise NedError(f"rig arrays have shapes {self.mean_shape.shape}, "
                           f"{self.offsets.shape}, {self.weights.shape}; expected ({n}, 3), "
                           f"({e}, {n}, 3), ({e}, {n})")

    def deform(self, identity: np.ndarray, expressions: np.ndarray) -> np.ndarray:
        """Shapes under expressions.

        Args:
            identity: (478, 3) cm neutral shape.
            expressions: (T, E) coefficients.

        Returns:
            (T, 478, 3) float32 cm.
        """
        return (identity[None] + np.einsum("te,evc->tvc", expressions, self.offsets)
                ).astype(np.float32)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the rig as a plain npz (no pickles), atomically."""
        path = Path(path)
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, mean_shape=self.mean_shape, offsets=self.offsets,
                                weights=self.weights, names=np.array(self.names),
                                info=np.array(json.dumps(self.info)))
        return path


def default_rig_path() -> Path:
    return Path(str(resources.files("ned") / "assets" / RIG_FILE))


def load_rig(path: str | os.PathLike | None = None) -> Rig:
    """Load a rig file (default: the shipped ``rig_mediapipe.npz``)."""
    path = Path(path) if path is not None else default_rig_path()
    if not path.is_file():
        raise NedError(f"rig file not found: {path} (build it with scripts/build_rig.py)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return Rig(mean_shape=z["mean_shape"].astype(np.float32),
                       offsets=z["offsets"].astype(np.float32),
                       weights=z["weights"].astype(np.float32),
                       names=tuple(str(n) for n in z["names"]),
                       info=json.loads(str(z["info"])))
    except (KeyError, ValueError, OSError) as e:
        raise NedError(f"{path} is not a rig file ({e.__class__.__name__})") from None


def fit_offsets(shapes: list[np.ndarray], coeffs: list[np.ndarray], weights: np.ndarray,
                prior: np.ndarray, lam: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Region-confined ridge fit of rig offsets, shrunk towards a prior.

    Model per clip c and frame t: ``X[c,t,v] = mu[c,v] + sum_k b[c,t,k] w[k,v] d[k,v]``.
    Per-clip means are removed (so each clip has its own identity ``mu``); for each vertex
    ``d[:, v]`` minimises ``sum |X - mu - F d|^2 + lam * |d - prior_d|^2`` where F holds the
    coefficients of the channels whose region covers v.

    Args:
        shapes: per clip (T_c, 478, 3) pose-normalised shapes, cm.
        coeffs: per clip (T_c, E) blendshape coefficients.
        weights: (E, 478) region weights.
        prior: (E, 478, 3) prior offsets (already confined), cm.
        lam: ridge strength (in units of summed squared coefficients).

    Returns:
        offsets (E, 478, 3) float32 (confined), and per clip the identity (478, 3).
    """
    e = weights.shape[0]
    xs = [x.astype(np.float64) - x.mean(0) for x in shapes]
    bs = [b.astype(np.float64) - b.mean(0) for b in coeffs]
    y = np.concatenate(xs)                       # (N, V, 3)
    b = np.concatenate(bs)                       # (N, E)
    w = weights.astype(np.float64)
    safe_w = np.where(w > 0, w, 1.0)
    prior_d = np.where(w[..., None] > 0, prior / safe_w[..., None], 0.0)   # (E, V, 3)
    gram = b.T @ b                               # (E, E)
    g = gram[None] * (w.T[:, :, None] * w.T[:, None, :])                  # (V, E, E)
    g = g + lam * np.eye(e)[None]
    rhs = w.T[:, :, None] * np.einsum("te,tvc->vec", b, y) + lam * prior_d.transpose(1, 0, 2)
    d = np.linalg.solve(g, rhs)                  # (V, E, 3)
    offsets = (w[..., None] * d.transpose(1, 0, 2)).astype(np.float32)
    ids = [(x.mean(0) - np.einsum("e,evc->vc", c.mean(0), offsets)).astype(np.float32)
           for x, c in zip(shapes, coeffs, strict=True)]
    return offsets, ids
