"""Training data of the neural renderer: prepared clips and a sequence sampler.

A :class:`RendererClip` holds one actor clip in aligned crop space (images, the
face-model conditioning images, masks, landmarks). :class:`SequenceSampler` draws
batches of consecutive frames from it as the generator sees them: each step's
conditions are those of the current and previous frames (padded by repetition at the
start), plus, with ``use_warp``, the warp renderer's output for that frame. In
self-reenactment the warp of a frame's own geometry is the frame itself, so the warp
source is always a *different* reference frame of the same actor, warped to the current
frame's landmarks (what the edit pipeline does with edited landmarks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from ned.errors import NedError
from ned.records import Record
from ned.render.neural.config import FACE_CHANNELS, RendererConfig, TrainConfig
from ned.topology import LIPS_OUTER, N_LANDMARKS

#: warp(src_image (S,S,3) uint8, src_points (478,3), dst_points (478,3)) -> (S,S,3) uint8
WarpFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class RendererClip(Record):
    """One clip of one actor, prepared for the renderer (aligned crop space).

    Attributes:
        images: (T, S, S, 3) uint8 RGB aligned crops.
        conditions: (T, S, S, 9) uint8: NMFC (3), shape (3), eyes (3) images.
        masks: (T, S, S) uint8 face mask, 255 inside.
        points: (T, 478, 3) float32 landmarks in crop pixels (x, y; depth in the same
            scale, smaller is nearer).
        valid: (T,) bool, frames with a face.
        name: actor / clip name.
        conditioner: which conditioning function made ``conditions``.
    """

    KIND: ClassVar[str] = "RendererClip"

    images: np.ndarray
    conditions: np.ndarray
    masks: np.ndarray
    points: np.ndarray
    valid: np.ndarray
    name: str = ""
    conditioner: str = ""

    def __post_init__(self) -> None:
        t, s = self.images.shape[:2]
        want = {"images": (t, s, s, 3), "conditions": (t, s, s, FACE_CHANNELS),
                "masks": (t, s, s), "points": (t, N_LANDMARKS, 3), "valid": (t,)}
        for k, shape in want.items():
            if getattr(self, k).shape != shape:
                raise NedError(f"RendererClip.{k} has shape {getattr(self, k).shape}, "
                               f"expected {shape}")
        self.valid = self.valid.astype(bool)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def split(self, val_fraction: float) -> tuple[range, range]:
        """Frame ranges of the training part (first) and the held-out part (last)."""
        n_val = int(round(len(self) * val_fraction))
        return range(0, len(self) - n_val), range(len(self) - n_val, len(self))


def mouth_centres(points: np.ndarray) -> np.ndarray:
    """(..., 478, 2+) crop landmarks -> (..., 2) mouth centres (mean of the outer lip)."""
    return points[..., list(LIPS_OUTER), :2].mean(-2)


def to_unit(x: np.ndarray) -> torch.Tensor:
    """(..., H, W, C) uint8 -> (..., C, H, W) float32 in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(x)).float().div(127.5).sub(1.0)
    return t.movedim(-1, -3)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(..., C, H, W) in [-1, 1] -> (..., H, W, C) uint8."""
    y = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return y.movedim(-3, -1).cpu().numpy()


def frame_condition(clip: RendererClip, t: int, warp: np.ndarray | None) -> np.ndarray:
    """(S, S, 9 or 12) uint8 conditioning of frame ``t`` (face images + optional warp)."""
    c = clip.conditions[t]
    return c if warp is None else np.concatenate([c, warp], -1)


def history(t: int, lo: int, n: int) -> list[int]:
    """Frame indices t, t-1, ..., t-n+1 clamped at ``lo`` (padding by repetition)."""
    return [max(t - k, lo) for k in range(n)]


class SequenceSampler:
    """Draws training batches of consecutive frames.

    Args:
        clips: prepared clips (all of ``cfg.size``). One actor, or many for a meta-renderer.
        cfg, tcfg: architecture and training configuration.
        generator: torch RNG of all sampling and augmentation (seeded by the caller).
        warp_fn: warp renderer used when ``cfg.use_warp``.

    Raises:
        NedError: a clip of the wrong size, or too few valid frames to train.
    """

    def __init__(self, clips: Sequence[RendererClip], cfg: RendererConfig, tcfg: TrainConfig,
                 generator: torch.Generator, warp_fn: WarpFn | None = None) -> None:
        if not clips:
            raise NedError("no clips to train on")
        self.cfg, self.tcfg, self.gen = cfg, tcfg, generator
        self.clips = list(clips)
        self.warp_fn = warp_fn
        if cfg.use_warp and warp_fn is None:
            raise NedError("use_warp needs a warp function")
        self.starts: list[np.ndarray] = []
        need = max(tcfg.seq_len, 2) + 1
        for c in self.clips:
            if c.size != cfg.size:
                raise NedError(f"clip {c.name!r} has {c.size} px crops, the renderer "
                               f"config needs {cfg.size}")
            train, _ = c.split(tcfg.val_fraction)
            self.starts.append(valid_starts(c.valid, train, tcfg.seq_len))
        self._starts_by_len = {tcfg.seq_len: self.starts}
        if sum(len(s) for s in self.starts) == 0 or sum(
                int(c.valid[c.split(tcfg.val_fraction)[0]].sum()) for c in self.clips) < need:
            n = sum(int(c.valid.sum()) for c in self.clips)
            raise NedError(f"too few valid frames to train the renderer: {n} face frames "
                           f"in all, need {tcfg.seq_len} consecutive ones and at least "
                           f"{need} in the training part")

    def _randint(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.gen))

    def _reference(self, ci: int, avoid: Sequence[int]) -> int:
        """A valid training frame of clip ``ci`` not in ``avoid`` (the warp source)."""
        clip = self.clips[ci]
        train, _ = clip.split(self.tcfg.val_fraction)
        cand = [i for i in train if clip.valid[i] and i not in set(avoid)]
        if not cand:
            cand = [i for i in train if clip.valid[i]]
        return cand[self._randint(len(cand))]

    def _starts(self, seq_len: int) -> tuple[int, list[np.ndarray]]:
        """(length, start lists): the longest length <= ``seq_len`` some clip allows."""
        while seq_len > self.tcfg.seq_len:
            if seq_len not in self._starts_by_len:
                self._starts_by_len[seq_len] = [
                    valid_starts(c.valid, c.split(self.tcfg.val_fraction)[0], seq_len)
                    for c in self.clips]
            if any(len(s) for s in self._starts_by_len[seq_len]):
                return seq_len, self._starts_by_len[seq_len]
            seq_len -= 1
        return self.tcfg.seq_len, self.starts

    def sample_one(self, seq_len: int | None = None) -> dict[str, torch.Tensor]:
        """One sequence (tensors without the batch axis; see :meth:`sample`)."""
        length, all_starts = self._starts(seq_len or self.tcfg.seq_len)
        weights = torch.tensor([float(len(s) > 0) for s in all_starts])
        ci = int(torch.multinomial(weights, 1, generator=self.gen))
        clip, starts = self.clips[ci], all_starts[ci]
        t0 = int(starts[self._randint(len(starts))])
        lo = int(first_of_run(clip.valid, t0))
        steps = list(range(t0, t0 + length))
        p = self.cfg.n_cond_frames
        ref = self._reference(ci, steps) if self.cfg.use_warp else -1
        frames = sorted({i for t in steps for i in history(t, lo, p)})
        conds = {i: frame_condition(clip, i, self._warp(clip, ref, i)) for i in frames}
        cond = np.stack([np.concatenate([conds[i] for i in history(t, lo, p)], -1)
                         for t in steps])
        mask = clip.masks[steps].astype(np.float32)[:, None] / 255.0
        real = to_unit(clip.images[steps])
        real = (real + 1.0) * torch.from_numpy(mask) - 1.0
        prev = self._initial_prev(clip, t0, lo)
        out = {"cond": to_unit(cond), "real": real, "mask": torch.from_numpy(mask),
               "prev": prev, "mouth": torch.from_numpy(mouth_centres(clip.points[steps]))}
        return augment(out, self.gen) if self.tcfg.augment else out

    def _warp(self, clip: RendererClip, ref: int, t: int) -> np.ndarray | None:
        if ref < 0:
            return None
        return self.warp_fn(clip.images[ref], clip.points[ref], clip.points[t])

    def _initial_prev(self, clip: RendererClip, t0: int, lo: int) -> torch.Tensor:
        """(3 * n_prev, S, S) previous outputs at the sequence start: the real masked
        frames before it, or blank (-1) with chance ``p_zero_history`` / at a run start."""
        n, s = self.cfg.n_prev_outputs, self.cfg.size
        blank = torch.full((3 * n, s, s), -1.0)
        u = float(torch.rand((), generator=self.gen))
        if n == 0 or t0 == lo or u < self.tcfg.p_zero_history:
            return blank
        idx = [max(t0 - 1 - k, lo) for k in range(n)]
        m = torch.from_numpy(clip.masks[idx].astype(np.float32)[:, None] / 255.0)
        img = (to_unit(clip.images[idx]) + 1.0) * m - 1.0
        return img.reshape(3 * n, s, s)

    def sample(self, batch_size: int, seq_len: int | None = None) -> dict[str, torch.Tensor]:
        """A batch: ``cond`` (B, L, cfg.cond_channels, S, S), ``real`` (B, L, 3, S, S)
        masked, ``mask`` (B, L, 1, S, S), ``prev`` (B, 3 * n_prev, S, S), ``mouth``
        (B, L, 2) pixels; images in [-1, 1]. L is ``seq_len`` (default the configured
        length), shortened to the longest run of valid training frames if needed."""
        length = self._starts(seq_len or self.tcfg.seq_len)[0]
        items = [self.sample_one(length) for _ in range(batch_size)]
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def valid_starts(valid: np.ndarray, frames: range, seq_len: int) -> np.ndarray:
    """Start indices within ``frames`` of ``seq_len`` consecutive valid frames."""
    v = np.zeros(len(valid), bool)
    v[frames.start:frames.stop] = valid[frames.start:frames.stop]
    ok = [t for t in range(frames.start, frames.stop - seq_len + 1) if v[t:t + seq_len].all()]
    return np.array(ok, np.int64)


def first_of_run(valid: np.ndarray, t: int) -> int:
    """First index of the run of valid frames containing ``t``."""
    while t > 0 and valid[t - 1]:
        t -= 1
    return t


def augment(item: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Same random similarity (1% translation, scale 0.99-1.01) on every image of one
    sequence, its mask and mouth centres; blank areas become -1 (mask 0)."""
    r = torch.rand(3, generator=gen)
    scale = 0.99 + 0.02 * float(r[0])
    tx, ty = (0.02 * (r[1:] - 0.5)).tolist()  # +-1% of the side = +-0.02 in [-1, 1] units
    theta = torch.tensor([[1 / scale, 0.0, -tx / scale], [0.0, 1 / scale, -ty / scale]])
    out = dict(item)
    s = item["real"].shape[-1]
    for k in ("cond", "real", "mask"):
        x = item[k]
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        pad = 0.0 if k == "mask" else -1.0
        out[k] = F.grid_sample(x - pad, grid, align_corners=False) + pad
    x = item["prev"][None]
    grid = F.affine_grid(theta[None], list(x.shape), align_corners=False)
    out["prev"] = (F.grid_sample(x + 1.0, grid, align_corners=False) - 1.0)[0]
    c = (item["mouth"] + 0.5) / s * 2 - 1  # pixel centres -> [-1, 1]
    c = c * scale + torch.tensor([tx, ty])
    out["mouth"] = (c + 1) / 2 * s - 0.5
    return out
