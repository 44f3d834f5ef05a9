"""NumPy inference of the manipulator's translator G, style encoder E and mapping network M.

The same computation as :mod:`ned.manipulator.nets` (PyTorch, used for training), in
float32 NumPy, so that an edit never imports torch (about 0.8 s and 200 MB per process).
Weights come from the ``G/``, ``E/`` and ``M/`` tensors of a manipulator checkpoint, named
as the PyTorch modules' state dicts; tests check both implementations agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ned.errors import NedError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # no overflow warnings for large |x|


def _matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(..., In) @ (In, Out) as one 2-D product (NumPy runs a stacked product per item)."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1])


def _leaky(x: np.ndarray, slope: float = 0.2) -> np.ndarray:
    return np.maximum(x, slope * x)


@dataclass(frozen=True)
class Dense:
    """A linear layer: ``x @ w + b`` with w (In, Out), b (Out,)."""

    w: np.ndarray
    b: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return _matmul(x, self.w) + self.b


@dataclass(frozen=True)
class LSTMDirection:
    """One direction of one LSTM layer; gate columns reordered to (i, f, o, g).

    Attributes:
        w_ih: (In, 4H) input weights.
        w_hh: (H, 4H) recurrent weights.
        b: (4H,) both biases summed.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b: np.ndarray

    def run(self, x: np.ndarray, reverse: bool) -> np.ndarray:
        """(B, N, In) -> (B, N, H) hidden states, zero initial state."""
        bsz, n, _ = x.shape
        hid = self.w_hh.shape[0]
        xi = _matmul(x, self.w_ih) + self.b
        h = np.zeros((bsz, hid), np.float32)
        c = np.zeros((bsz, hid), np.float32)
        out = np.empty((bsz, n, hid), np.float32)
        for t in (range(n - 1, -1, -1) if reverse else range(n)):
            gates = xi[:, t] + h @ self.w_hh
            sig = _sigmoid(gates[:, :3 * hid])
            c = sig[:, hid:2 * hid] * c + sig[:, :hid] * np.tanh(gates[:, 3 * hid:])
            h = sig[:, 2 * hid:] * np.tanh(c)
            out[:, t] = h
        return out


def bilstm(x: np.ndarray, layers: list[tuple[LSTMDirection, LSTMDirection]]) -> np.ndarray:
    """Stacked bidirectional LSTM (``nn.LSTM(..., bidirectional=True, batch_first=True)``).

    Args:
        x: (B, N, In) float32.
        layers: (forward, backward) directions per layer.

    Returns:
        (B, N, 2H) float32: forward and backward hidden states of the last layer.
    """
    for fwd, bwd in layers:
        x = np.concatenate([fwd.run(x, False), bwd.run(x, True)], axis=-1)
    return x


def _dense(t: Mapping[str, np.ndarray], name: str) -> Dense:
    return Dense(np.ascontiguousarray(t[f"{name}.weight"].astype(np.float32).T),
                 t[f"{name}.bias"].astype(np.float32))


def _lstm(t: Mapping[str, np.ndarray], name: str) -> list[tuple[LSTMDirection, LSTMDirection]]:
    layers = []
    k = 0
    while f"{name}.weight_ih_l{k}" in t:
        dirs = []
        for sfx in ("", "_reverse"):
            w_ih, w_hh = (t[f"{name}.weight_{a}_l{k}{sfx}"].astype(np.float32)
                          for a in ("ih", "hh"))
            b = (t[f"{name}.bias_ih_l{k}{sfx}"].astype(np.float32)
                 + t[f"{name}.bias_hh_l{k}{sfx}"].astype(np.float32))
            h = w_hh.shape[1]
            order = np.r_[0:2 * h, 3 * h:4 * h, 2 * h:3 * h]  # torch (i, f, g, o) -> (i, f, o, g)
            dirs.append(LSTMDirection(np.ascontiguousarray(w_ih[order].T),
                                      np.ascontiguousarray(w_hh[order].T), b[order]))
        layers.append((dirs[0], dirs[1]))
        k += 1
    if not layers:
        raise KeyError(f"{name}.weight_ih_l0")
    return layers


class Translator:
    """G: (x (B, N, E), style (B, S)) -> (B, N, E) (see :class:`ned.manipulator.nets.Generator`)."""

    def __init__(self, t: Mapping[str, np.ndarray], residual: bool) -> None:
        self.enc = [_dense(t, "encode.0"), _dense(t, "encode.2")]
        self.lstm = _lstm(t, "lstm")
        self.dec = [_dense(t, "decode.0"), _dense(t, "decode.2")]
        self.residual = residual

    def __call__(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        s = np.broadcast_to(s[:, None, :], (x.shape[0], x.shape[1], s.shape[-1]))
        h = _leaky(self.enc[1](_leaky(self.enc[0](np.concatenate([x, s], axis=-1)))))
        out = self.dec[1](_leaky(self.dec[0](bilstm(h, self.lstm))))
        return x + out if self.residual else out


class Encoder:
    """E: x (B, N, E) -> style (B, S) (see :class:`ned.manipulator.nets.StyleEncoder`)."""

    def __init__(self, t: Mapping[str, np.ndarray]) -> None:
        self.enc = [_dense(t, "trunk.encode.0"), _dense(t, "trunk.encode.2")]
        self.lstm = _lstm(t, "trunk.lstm")
        self.dec = [_dense(t, f"trunk.decode.{i}") for i in (0, 2, 4)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = bilstm(_leaky(self.enc[1](_leaky(self.enc[0](x)))), self.lstm)
        h = _leaky(self.dec[1](_leaky(self.dec[0](h))))
        return self.dec[2](h).mean(axis=1)


class Mapper:
    """M: z (B, Z), y (B,) domain index -> style (B, S) (see
    :class:`ned.manipulator.nets.MappingNetwork`)."""

    def __init__(self, t: Mapping[str, np.ndarray]) -> None:
        self.shared = [_dense(t, f"shared.{i}") for i in (0, 2, 4)]
        self.heads = []
        k = 0
        while f"heads.{k}.0.weight" in t:
            self.heads.append((_dense(t, f"heads.{k}.0"), _dense(t, f"heads.{k}.2")))
            k += 1

    def __call__(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        h = z.astype(np.float32)
        for layer in self.shared:
            h = np.maximum(layer(h), 0)
        out = np.empty((len(z), self.heads[0][1].w.shape[1]), np.float32)
        for i, d in enumerate(np.asarray(y, np.int64)):
            if not 0 <= d < len(self.heads):
                raise NedError(f"domain {d} is not one of the {len(self.heads)} domains")
            a, b = self.heads[d]
            out[i] = b(np.maximum(a(h[i:i + 1]), 0))[0]
        return out


def seeded_normal(seed: int, n: int) -> np.ndarray:
    """``torch.randn(n, generator=torch.Generator().manual_seed(seed))`` without torch.

    For n < 16 torch draws each value by Box-Muller in double precision from two 53-bit
    uniforms of its MT19937 (seeded like NumPy's legacy ``RandomState``), keeping the sine
    half for the next value; the same is done here, bit for bit (tested against torch).
    Larger n (torch then fills vectorised in float32) use NumPy's own generator.

    Returns:
        (n,) float32.
    """
    if n >= 16:
        return np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    state = np.random.RandomState(int(seed) & 0xFFFFFFFF).get_state()
    mt = np.random.MT19937()
    mt.state = {"bit_generator": "MT19937", "state": {"key": state[1], "pos": state[2]}}
    raw = mt.random_raw(4 * ((n + 1) // 2)).astype(np.uint64).reshape(-1, 2, 2)
    words = (raw[..., 0] << np.uint64(32)) | raw[..., 1]            # (pairs, 2) 64-bit draws
    u = (words & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53
    radius, theta = np.sqrt(-2.0 * np.log1p(-u[:, 1])), 2.0 * np.pi * u[:, 0]
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1).reshape(-1)[:n] \
        .astype(np.float32)


def split_modules(tensors: Mapping[str, np.ndarray], names: tuple[str, ...] = ("G", "E", "M")
                  ) -> dict[str, dict[str, np.ndarray]]:
    """``{"G/encode.0.weight": ...}`` -> ``{"G": {"encode.0.weight": ...}, ...}``."""
    out: dict[str, dict[str, np.ndarray]] = {n: {} for n in names}
    for k, v in tensors.items():
        head, _, rest = k.partition("/")
        if head in out:
            out[head][rest] = v
    return out
