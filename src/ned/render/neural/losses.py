"""Losses of the neural renderer; each returns ``(loss, dict of floats)``.

LSGAN on a 2-scale PatchGAN and on a mouth PatchGAN, discriminator feature matching,
masked L1 and, when the user supplies VGG19 weights, the VGG19 perceptual loss of
pix2pixHD (layer weights 1/32, 1/16, 1/8, 1/4, 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ned.render.neural.config import RendererConfig, TrainConfig

Feats = list[list[torch.Tensor]]


def lsgan(preds: Feats, real: bool) -> torch.Tensor:
    """Least-squares GAN loss averaged over scales (last feature of each = scores)."""
    target = 1.0 if real else 0.0
    losses = [F.mse_loss(p[-1].float(), torch.full_like(p[-1].float(), target)) for p in preds]
    return torch.stack(losses).mean()


def feature_matching(fake: Feats, real: Feats) -> torch.Tensor:
    """pix2pixHD feature matching: L1 of intermediate features, real ones detached."""
    total = fake[0][0].new_zeros((), dtype=torch.float32)
    for f_scale, r_scale in zip(fake, real):
        w = 4.0 / (len(f_scale) - 1) / len(fake)
        for f, r in zip(f_scale[:-1], r_scale[:-1]):
            total = total + w * F.l1_loss(f.float(), r.detach().float())
    return total


def mouth_crops(x: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Square crops around the mouth.

    Args:
        x: (N, C, S, S) images.
        centres: (N, 2) mouth centres (x, y) in pixels.
        size: crop side in pixels (the box is shifted to stay inside the image).

    Returns:
        (N, C, size, size).
    """
    s = x.shape[-1]
    half = size // 2
    out = []
    for i in range(x.shape[0]):
        cx = int(round(float(centres[i, 0])))
        cy = int(round(float(centres[i, 1])))
        x0 = min(max(cx - half, 0), s - size)
        y0 = min(max(cy - half, 0), s - size)
        out.append(x[i, :, y0:y0 + size, x0:x0 + size])
    return torch.stack(out)


def masked_l1(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error inside the mask (per-sample normalised, then batch mean)."""
    num = ((fake.float() - real.float()).abs() * mask).flatten(1).sum(1)
    den = mask.flatten(1).sum(1).clamp_min(1.0) * fake.shape[1]
    return (num / den).mean()


def generator_loss(nets: dict[str, nn.Module], cfg: RendererConfig, tcfg: TrainConfig,
                   cond: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                   mask: torch.Tensor, mouth: torch.Tensor,
                   vgg: VGG19Features | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Generator objective on N frames.

    Args:
        nets: ``D`` and ``Dm`` (see :func:`~ned.render.neural.nets.build_nets`).
        cond: (N, cfg.frame_channels, S, S) current-frame conditions.
        fake, real: (N, 3, S, S) in [-1, 1]. mask: (N, 1, S, S). mouth: (N, 2) pixels.
        vgg: perceptual feature extractor, or None (VGG loss off).
    """
    d_fake = nets["D"](torch.cat([cond, fake], 1))
    with torch.no_grad():
        d_real = nets["D"](torch.cat([cond, real], 1))
    m_in_fake = mouth_crops(torch.cat([cond, fake], 1), mouth, cfg.mouth_size)
    m_in_real = mouth_crops(torch.cat([cond, real], 1), mouth, cfg.mouth_size)
    dm_fake = nets["Dm"](m_in_fake)
    with torch.no_grad():
        dm_real = nets["Dm"](m_in_real)
    parts = {
        "g_gan": lsgan(d_fake, True),
        "g_fm": tcfg.lambda_feat * feature_matching(d_fake, d_real),
        "g_mouth": tcfg.lambda_mouth * (lsgan(dm_fake, True)
                                        + tcfg.lambda_feat * feature_matching(dm_fake, dm_real)),
        "g_l1": tcfg.lambda_l1 * masked_l1(fake, real, mask),
    }
    if vgg is not None:
        parts["g_vgg"] = tcfg.lambda_vgg * vgg.loss(fake, real)
    loss = torch.stack(list(parts.values())).sum()
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def discriminator_loss(nets: dict[str, nn.Module], cfg: RendererConfig, cond: torch.Tensor,
                       fake: torch.Tensor, real: torch.Tensor,
                       mouth: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """LSGAN objective of ``D`` and ``Dm`` (fakes detached). Shapes as
    :func:`generator_loss`."""
    fake = fake.detach()
    x_fake, x_real = torch.cat([cond, fake], 1), torch.cat([cond, real], 1)
    parts = {
        "d_real": lsgan(nets["D"](x_real), True),
        "d_fake": lsgan(nets["D"](x_fake), False),
        "dm_real": lsgan(nets["Dm"](mouth_crops(x_real, mouth, cfg.mouth_size)), True),
        "dm_fake": lsgan(nets["Dm"](mouth_crops(x_fake, mouth, cfg.mouth_size)), False),
    }
    loss = 0.5 * (parts["d_real"] + parts["d_fake"]) + 0.5 * (parts["dm_real"]
                                                              + parts["dm_fake"])
    return loss, {k: float(v.detach()) for k, v in parts.items()}


#: Indices of the convolutions of torchvision's ``vgg19().features`` up to relu5_1 and the
#: ReLU indices after which features are taken (relu1_1, relu2_1, relu3_1, relu4_1, relu5_1).
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28)
VGG19_POOLS = (4, 9, 18, 27)
VGG19_TAPS = (1, 6, 11, 20, 29)
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


class VGG19Features(nn.Module):
    """VGG19 feature extractor built from a state dict in torchvision's key layout
    (``features.<i>.weight``); channel widths are taken from the tensors, so a narrow
    stand-in with the same structure loads too. Frozen; inputs in [-1, 1]."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(max(VGG19_TAPS) + 1):
            if i in VGG19_CONVS:
                w, b = state[f"features.{i}.weight"], state[f"features.{i}.bias"]
                conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=w.shape[2] // 2)
                with torch.no_grad():
                    conv.weight.copy_(w)
                    conv.bias.copy_(b)
                layers.append(conv)
            elif i in VGG19_POOLS:
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(nn.ReLU(inplace=False))
        self.layers = nn.ModuleList(layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x.float() + 1.0) / 2.0 - self.mean) / self.std
        feats = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in VGG19_TAPS:
                feats.append(x)
        return feats

    def loss(self, fake: torch.Tensor, real: torch.Tensor,
             weights: Sequence[float] = VGG_LAYER_WEIGHTS) -> torch.Tensor:
        """Weighted L1 between features of ``fake`` and (detached) ``real``."""
        with torch.no_grad():
            fr = self(real)
        ff = self(fake)
        return sum(w * F.l1_loss(a, b) for w, a, b in zip(weights, ff, fr))


def load_vgg19(path: str) -> VGG19Features:
    """Load user-supplied VGG19 weights (``.safetensors``, or a torch state dict file
    read with ``weights_only=True``) in torchvision's key layout. Nothing is downloaded.

    Raises:
        NedError: the file is missing, unreadable or not VGG19-shaped.
    """
    import os

    from ned.errors import NedError

    if not os.path.isfile(path):
        raise NedError(f"VGG19 weights not found: {path} (the VGG loss needs a local file; "
                       "leave --vgg out to train without it)")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any read failure is a user error here
        raise NedError(f"cannot read VGG19 weights {path}: {e.__class__.__name__}") from None
    if not isinstance(state, dict):
        raise NedError(f"{path} is not a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "features.0.weight" not in state and "0.weight" in state:
        state = {f"features.{k}": v for k, v in state.items()}
    for i, c in enumerate(VGG19_CONVS):
        w = state.get(f"features.{c}.weight")
        if (w is None or f"features.{c}.bias" not in state or w.ndim != 4
                or (i == 0 and w.shape[1] != 3)):
            raise NedError(f"{path} does not hold VGG19 features (missing or bad "
                           f"features.{c}.weight)")
    try:
        return VGG19Features({k: v.float() for k, v in state.items()})
    except RuntimeError as e:
        raise NedError(f"{path}: VGG19 weights of inconsistent shapes ({e})") from None
