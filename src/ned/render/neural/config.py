"""Configurations of the neural face renderer (frozen dataclasses).

``RendererConfig`` fixes the architecture (what a checkpoint must match); ``TrainConfig``
fixes how it is trained (free to change between runs and on resume).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ned.errors import NedError

#: Channels of one frame's face-model conditioning: NMFC (3) + shape (3) + eyes (3).
FACE_CHANNELS = 9
#: Channels of the optional warp-renderer conditioning (an RGB crop).
WARP_CHANNELS = 3


@dataclass(frozen=True)
class RendererConfig:
    """Architecture of the renderer (Head2Head++ derived, see docs/neural_renderer.md).

    Attributes:
        name: preset name ("paper", "tiny" or "custom").
        size: side of the aligned square crop in pixels (input and output).
        use_warp: add the warp renderer's output (3 channels) to each frame's conditioning.
        warp_blend: with ``use_warp``, the generator also predicts a per-pixel weight and
            blends its image with the current frame's warp (vid2vid-style composition), so
            it only has to learn what the warp cannot show.
        n_cond_frames: conditioning frames seen per step (current + previous ones).
        n_prev_outputs: previous generated frames fed back to the generator.
        ngf: generator base width; channels double at each downsampling.
        n_downsampling: stride-2 convolutions per encoder branch (and transposed ones).
        n_blocks: residual blocks; ``n_blocks - n_blocks // 2`` in each encoder branch,
            ``n_blocks // 2`` in the decoder (vid2vid / Head2Head layout).
        ndf: discriminator base width.
        n_layers_d: stride-2 layers of each PatchGAN.
        num_d: scales of the multiscale image discriminator.
        mouth_size: side of the mouth crop in pixels (72 at 256 px in the paper).
    """

    name: str = "custom"
    size: int = 256
    use_warp: bool = True
    warp_blend: bool = True
    n_cond_frames: int = 3
    n_prev_outputs: int = 2
    ngf: int = 64
    n_downsampling: int = 3
    n_blocks: int = 9
    ndf: int = 64
    n_layers_d: int = 3
    num_d: int = 2
    mouth_size: int = 72

    def __post_init__(self) -> None:
        if self.size % (2 ** self.n_downsampling) or self.size < 16:
            raise NedError(f"renderer size {self.size} must be >= 16 and divisible by "
                           f"2**n_downsampling = {2 ** self.n_downsampling}")
        if self.n_cond_frames < 1 or self.n_prev_outputs < 0:
            raise NedError("renderer needs n_cond_frames >= 1 and n_prev_outputs >= 0")
        if not 8 <= self.mouth_size <= self.size:
            raise NedError(f"mouth_size {self.mouth_size} must be within 8..{self.size}")

    @property
    def frame_channels(self) -> int:
        """Conditioning channels of one frame (9, or 12 with the warp)."""
        return FACE_CHANNELS + (WARP_CHANNELS if self.use_warp else 0)

    @property
    def cond_channels(self) -> int:
        """Input channels of the generator's condition branch."""
        return self.frame_channels * self.n_cond_frames

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RendererConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise NedError(f"unknown renderer config fields: {sorted(unknown)}")
        return cls(**d)


def preset(name: str, **overrides: Any) -> RendererConfig:
    """A named architecture: ``paper`` (reference sizes, ~70M generator parameters, 256 px)
    or ``tiny`` (trains on a CPU, 64 px). Keyword overrides replace fields."""
    presets = {
        "paper": dict(name="paper", size=256, ngf=64, n_downsampling=3, n_blocks=9, ndf=64,
                      n_layers_d=3, num_d=2, mouth_size=72),
        "tiny": dict(name="tiny", size=64, ngf=16, n_downsampling=2, n_blocks=4, ndf=16,
                     n_layers_d=2, num_d=2, mouth_size=24),
    }
    if name not in presets:
        raise NedError(f"unknown renderer preset {name!r}; choose one of {sorted(presets)}")
    return RendererConfig(**{**presets[name], **overrides})


@dataclass(frozen=True)
class TrainConfig:
    """How the renderer is trained (reference values where they fit a CPU).

    Attributes:
        steps: optimisation steps (one step = one batch of sequences).
        batch_size: sequences per step (per process when distributed).
        seq_len_double_every: curriculum of the reference (12 frames doubling every 5
            epochs up to 48): the sequence length doubles every this many steps (0 = fixed),
            up to ``seq_len_max`` (and to what the clips allow).
        seq_len_max: longest sequence of the curriculum.
        seq_len: consecutive frames per sequence; the generator is run recurrently over
            them, feeding back its own (detached) outputs.
        lr, beta1, beta2: Adam (reference 2e-4, 0.5, 0.999).
        lambda_l1: weight of the masked L1 reconstruction loss.
        lambda_feat: weight of discriminator feature matching (reference 10).
        lambda_vgg: weight of the VGG19 perceptual loss (reference 10; used only with
            ``vgg_path``).
        lambda_mouth: weight of the mouth discriminator's GAN + feature-matching loss.
        vgg_path: user-supplied VGG19 weights (safetensors or torch state dict); "" = off.
        p_zero_history: chance that a sequence starts with blank previous outputs (as
            at the start of a clip at inference) instead of the real previous frames.
        augment: random translation (1%) and scale (0.99-1.01) per sequence.
        amp: automatic mixed precision (float16 on CUDA, bfloat16 on CPU).
        seed: seed of weights, sampling and augmentation.
        log_every, sample_every, checkpoint_every: periods in steps (0 = never).
        eval_every: period in steps of the held-out FAPD (0 = only at start and end).
        val_fraction: the last fraction of each clip held out for evaluation.
    """

    steps: int = 2000
    batch_size: int = 4
    seq_len: int = 3
    seq_len_double_every: int = 0
    seq_len_max: int = 48
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 10.0
    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    lambda_mouth: float = 1.0
    vgg_path: str = ""
    p_zero_history: float = 0.2
    augment: bool = True
    amp: bool = True
    seed: int = 777
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    eval_every: int = 0
    val_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.seq_len < 1:
            raise NedError("steps must be >= 0, batch_size and seq_len >= 1")
        if self.seq_len_double_every < 0 or self.seq_len_max < self.seq_len:
            raise NedError("seq_len_double_every must be >= 0 and seq_len_max >= seq_len")

    def seq_len_at(self, step: int) -> int:
        """Sequence length used at optimisation step ``step`` (0-based)."""
        if not self.seq_len_double_every:
            return self.seq_len
        return min(self.seq_len * 2 ** (step // self.seq_len_double_every), self.seq_len_max)
        if not 0.0 <= self.val_fraction < 1.0:
            raise NedError(f"val_fraction {self.val_fraction} must be in [0, 1)")
