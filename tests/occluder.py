"""A synthetic occluder for tests: a shaded, skin-coloured hand shape moving across a clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ned.io import VideoWriter, probe, read_frames


def hand_mask(shape: tuple[int, int], centre: tuple[float, float], size: float) -> np.ndarray:
    """(H, W) uint8 mask of a hand: a palm ellipse and four fingers plus a thumb."""
    m = np.zeros(shape, np.uint8)
    cx, cy = centre
    cv2.ellipse(m, (int(cx), int(cy)), (int(size * 0.45), int(size * 0.55)), 0, 0, 360, 255, -1)
    for k, dx in enumerate((-0.33, -0.11, 0.11, 0.33)):
        length = size * (0.55 if k in (1, 2) else 0.45)
        x = int(cx + dx * size)
        top = int(cy - size * 0.5 - length * 0.45)
        cv2.ellipse(m, (x, top), (int(size * 0.1), int(length / 2)), 0, 0, 360, 255, -1)
    cv2.ellipse(m, (int(cx + size * 0.5), int(cy + size * 0.1)), (int(size * 0.1), int(size * 0.3)),
                -40, 0, 360, 255, -1)
    return m


def hand_texture(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 skin-coloured texture with a shading gradient and fine noise."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 0.75 + 0.35 * (xx / w) - 0.15 * (yy / h)
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 1.5)
    base = np.array([236, 178, 146], np.float32)  # light skin tone
    return np.clip(base[None, None] * shade[..., None] + noise[..., None], 0, 255).astype(np.uint8)


def sweep(index: int, start: int, stop: int, period: int = 0, lo: float = 0.3,
          hi: float = 0.7) -> float | None:
    """Where the hand is in frame ``index``: its centre as a fraction of the frame's
    width, ``lo`` -> ``hi`` over [start, stop) (``period`` 0), or back and forth between
    them every ``period`` frames; None outside [start, stop)."""
    if not start <= index < stop:
        return None
    if not period:
        return lo + (hi - lo) * (index - start) / (stop - start)
    phase = ((index - start) % period) / period
    return lo + (hi - lo) * (2 * phase if phase < 0.5 else 2 - 2 * phase)


def draw_hand(image: np.ndarray, x: float, size: float, texture: np.ndarray) -> np.ndarray:
    """(H, W) bool mask of the hand drawn in place into ``image`` (H, W, 3) uint8: centred
    at ``x`` (a fraction of the width) and 0.62 of the height, ``size`` pixels across."""
    h, w = image.shape[:2]
    m = hand_mask((h, w), (w * x, h * 0.62), size) > 0
    image[m] = texture[m]
    return m


def make_occluded_clip(src: Path, out: Path, start: int = 20, stop: int = 60,
                       size: float = 90.0) -> tuple[Path, np.ndarray]:
    """Copy ``src`` with a hand moving left to right across the middle of the frame
    during frames [start, stop). Returns the clip and the (T, H, W) bool hand masks."""
    info = probe(src)
    masks = np.zeros((info.frame_count, info.height, info.width), bool)
    tex = hand_texture((info.height, info.width))
    with VideoWriter(out, like=src, audio_from=src if info.has_audio else None, crf=12) as w:
        for f in read_frames(src):
            img = f.image
            x = sweep(f.index, start, stop)
            if x is not None:
                img = img.copy()
                masks[f.index] = draw_hand(img, x, size, tex)
            w.write(img, f.pts)
    return out, masks
