"""Streaming inference: :class:`NeuralRenderer` renders one aligned face crop per call,
keeping the previous conditions and outputs it needs (every frame is rendered, the first
ones with their history padded exactly as in training)."""

from __future__ import annotations

import os
from collections import deque

import numpy as np
import torch

from ned.errors import NedError
from ned.render.neural.checkpoint import load_into, read_renderer
from ned.render.neural.config import FACE_CHANNELS, RendererConfig
from ned.render.neural.data import to_uint8, to_unit
from ned.render.neural.nets import Generator


class NeuralRenderer:
    """A trained generator with its recurrent state.

    Args:
        generator: the generator network.
        cfg: its architecture.
        device: where it runs (default: CUDA when available, else CPU).
        amp: float16 autocast on CUDA (ignored on the CPU).
    """

    def __init__(self, generator: Generator, cfg: RendererConfig,
                 device: str | torch.device | None = None, amp: bool = False) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.cfg = cfg
        self.G = generator.to(self.device).eval()
        self.amp = bool(amp and self.device.type == "cuda")
        self.reset()

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None,
             amp: bool = False) -> NeuralRenderer:
        """Load a renderer file written by ``ned train-renderer`` (NedError if invalid)."""
        cfg, _, tensors = read_renderer(path)
        g = Generator(cfg)
        load_into({"G": g}, tensors, path, names=("G",))
        return cls(g, cfg, device=device, amp=amp)

    @property
    def size(self) -> int:
        return self.cfg.size

    def reset(self) -> None:
        """Forget the history (call at the start of each shot / run of face frames)."""
        self._conds: deque[torch.Tensor] = deque(maxlen=self.cfg.n_cond_frames)
        self._outs: deque[torch.Tensor] = deque(maxlen=max(self.cfg.n_prev_outputs, 1))

    def _check(self, conditions: np.ndarray, mask: np.ndarray, warp: np.ndarray | None) -> None:
        s = self.cfg.size
        if conditions.shape != (s, s, FACE_CHANNELS) or conditions.dtype != np.uint8:
            raise NedError(f"renderer conditions must be ({s}, {s}, 9) uint8, got "
                           f"{conditions.shape} {conditions.dtype}")
        if mask.shape != (s, s):
            raise NedError(f"renderer mask must be ({s}, {s}), got {mask.shape}")
        if self.cfg.use_warp and warp is None:
            raise NedError("this renderer was trained with warp conditioning: pass the warp "
                           "renderer's crop (warp=...)")
        if warp is not None and self.cfg.use_warp and warp.shape != (s, s, 3):
            raise NedError(f"warp crop must be ({s}, {s}, 3) uint8, got {warp.shape}")

    @torch.inference_mode()
    def step(self, conditions: np.ndarray, mask: np.ndarray,
             warp: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Render the next frame.

        Args:
            conditions: (S, S, 9) uint8 NMFC, shape and eye images of this frame.
            mask: (S, S) face mask, uint8 (255 inside) or float in [0, 1].
            warp: (S, S, 3) uint8 warp-renderer crop of this frame (required when the
                renderer was trained with ``use_warp``; ignored otherwise).

        Returns:
            (S, S, 3) uint8 RGB face crop (black outside the mask) and the (S, S) float32
            mask in [0, 1] it covers.
        """
        mask = np.asarray(mask)
        self._check(np.asarray(conditions), mask, warp)
        m = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
        frame = conditions if not self.cfg.use_warp else np.concatenate([conditions, warp], -1)
        self._conds.appendleft(to_unit(frame).to(self.device))
        conds = list(self._conds) + [self._conds[-1]] * (self.cfg.n_cond_frames
                                                         - len(self._conds))
        s = self.cfg.size
        blank = torch.full((3, s, s), -1.0, device=self.device)
        outs = list(self._outs)[: self.cfg.n_prev_outputs]
        outs += [blank] * (self.cfg.n_prev_outputs - len(outs))
        mt = torch.from_numpy(m).to(self.device)[None, None]
        cond = torch.cat(conds, 0)[None]
        prev = torch.cat(outs, 0)[None] if outs else None
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            out = self.G(cond, prev, mt)[0].float()
        self._outs.appendleft(out)
        return to_uint8(out), m
