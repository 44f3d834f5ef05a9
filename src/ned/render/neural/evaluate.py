"""Held-out evaluation (FAPD) and sample grids of the neural renderer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ned.atomic import atomic_write
from ned.errors import NedError
from ned.render.neural.config import RendererConfig
from ned.render.neural.data import RendererClip, WarpFn, to_uint8


def fapd(fake: np.ndarray, real: np.ndarray, masks: np.ndarray) -> float:
    """Face-region average pixel distance (the paper's FAPD).

    Args:
        fake, real: (T, S, S, 3) uint8 RGB.
        masks: (T, S, S) face masks (uint8 255 or float 1 inside; > half counts).

    Returns:
        Mean over face pixels of all frames of the L2 distance of RGB values (0-255 scale).
    """
    if fake.shape != real.shape or fake.shape[:3] != masks.shape:
        raise NedError(f"fapd: shapes differ {fake.shape} {real.shape} {masks.shape}")
    m = masks > (127 if masks.dtype == np.uint8 else 0.5)
    if not m.any():
        raise NedError("fapd: empty face masks")
    d = fake.astype(np.float32) - real.astype(np.float32)  # per-pixel RGB L2, as metrics.pixel
    return float(np.sqrt((d * d).sum(-1))[m].astype(np.float64).mean())


def reference_frame(clip: RendererClip, frames: range) -> int:
    """The warp source for held-out frames: the middle valid frame of ``frames``."""
    ok = [i for i in frames if clip.valid[i]]
    if not ok:
        raise NedError(f"clip {clip.name!r} has no valid frame to warp from")
    return ok[len(ok) // 2]


def render_frames(generator: nn.Module, cfg: RendererConfig, clip: RendererClip,
                  frames: range, warp_fn: WarpFn | None, ref: int = -1) -> np.ndarray:
    """Render ``frames`` of a clip with the streaming renderer (history reset at every
    gap of invalid frames); invalid frames stay black.

    Returns:
        (len(frames), S, S, 3) uint8.
    """
    from ned.render.neural.infer import NeuralRenderer

    was_training = generator.training
    dev = next(generator.parameters()).device
    r = NeuralRenderer(generator, cfg, device=dev)
    out = np.zeros((len(frames), cfg.size, cfg.size, 3), np.uint8)
    prev_ok = False
    for j, t in enumerate(frames):
        if not clip.valid[t]:
            prev_ok = False
            continue
        if not prev_ok:
            r.reset()
        warp = (warp_fn(clip.images[ref], clip.points[ref], clip.points[t])
                if cfg.use_warp else None)
        out[j], _ = r.step(clip.conditions[t], clip.masks[t], warp)
        prev_ok = True
    generator.train(was_training)
    return out


def evaluate_held_out_fapd(generator: nn.Module, cfg: RendererConfig,
                           clips: Sequence[RendererClip], val_fraction: float,
                           warp_fn: WarpFn | None) -> dict[str, float]:
    """FAPD over the held-out (last ``val_fraction``) frames of all clips; the warp
    source of each clip is a training frame (:func:`reference_frame`).

    Returns ``{"fapd": value, "frames": count}`` (empty when nothing is held out).
    """
    fakes, reals, masks = [], [], []
    for c in clips:
        train, held = c.split(val_fraction)
        idx = [t for t in held if c.valid[t]]
        if not idx:
            continue
        ref = reference_frame(c, train) if cfg.use_warp else -1
        f = render_frames(generator, cfg, c, held, warp_fn, ref)
        keep = [t - held.start for t in idx]
        fakes.append(f[keep])
        reals.append(c.images[idx])
        masks.append(c.masks[idx])
    if not fakes:
        return {}
    value = fapd(np.concatenate(fakes), np.concatenate(reals), np.concatenate(masks))
    return {"fapd": value, "frames": float(sum(len(f) for f in fakes))}


def save_sample_grid(path: str | os.PathLike, batch: dict[str, torch.Tensor],
                     fake: torch.Tensor, cfg: RendererConfig, rows: int = 4) -> Path:
    """PNG of up to ``rows`` sequences (last frame): NMFC | shape | [warp] | output | real."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for b in range(min(rows, fake.shape[0])):
        c = batch["cond"][b, -1]
        tiles = [c[0:3], c[3:6]] + ([c[9:12]] if cfg.use_warp else [])
        tiles += [fake[b, -1], batch["real"][b, -1]]
        lines.append(np.concatenate([to_uint8(t.float().cpu()) for t in tiles], 1))
    grid = np.concatenate(lines, 0)
    with atomic_write(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(grid[..., ::-1])):
            raise NedError(f"cannot write {path}")
    return path
