"""Networks of the neural renderer: generator and PatchGAN discriminators.

Head2Head++ / vid2vid layout: the generator has two encoder branches (conditions of the
current and previous frames; its own previous outputs), summed at the bottleneck, and a
decoder; all with instance norm. Images are (B, 3, S, S) in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ned.render.neural.config import FACE_CHANNELS, RendererConfig


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convolutions with instance norm and a skip connection."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _encoder(in_ch: int, ngf: int, n_down: int, n_blocks: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7),
                               nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for i in range(n_down):
        c = ngf * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c),
                   nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 2 ** n_down) for _ in range(n_blocks)]
    return nn.Sequential(*layers)


def _decoder(ngf: int, n_down: int, n_blocks: int, out_ch: int = 3) -> nn.Sequential:
    top = ngf * 2 ** n_down
    layers: list[nn.Module] = [ResnetBlock(top) for _ in range(n_blocks)]
    for i in range(n_down, 0, -1):
        c = ngf * 2 ** i
        layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                   nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Renders one frame from conditions and previous outputs, limited to the face mask.

    Inputs of :meth:`forward`:
        cond: (B, cfg.cond_channels, S, S) conditions of the current and previous frames,
            current first, each frame's channels in [-1, 1].
        prev: (B, 3 * cfg.n_prev_outputs, S, S) previous outputs, most recent first, in
            [-1, 1] (black = -1 outside the face mask, or all -1 when there is no history).
        mask: (B, 1, S, S) face mask in [0, 1].

    With ``cfg.use_warp and cfg.warp_blend`` the decoder also predicts a weight
    ``a`` in (0, 1) and the image is ``a * warp + (1 - a) * generated``, where ``warp`` is
    the current frame's warp conditioning (channels 9:12 of ``cond``).

    Returns (B, 3, S, S) in [-1, 1]: the face inside the mask, black (-1) outside.
    """

    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n_enc = cfg.n_blocks - cfg.n_blocks // 2
        self.enc_cond = _encoder(cfg.cond_channels, cfg.ngf, cfg.n_downsampling, n_enc)
        self.enc_prev = (_encoder(3 * cfg.n_prev_outputs, cfg.ngf, cfg.n_downsampling, n_enc)
                         if cfg.n_prev_outputs else None)
        self.blend = cfg.use_warp and cfg.warp_blend
        self.dec = _decoder(cfg.ngf, cfg.n_downsampling, cfg.n_blocks // 2,
                            4 if self.blend else 3)

    def forward(self, cond: torch.Tensor, prev: torch.Tensor | None,
                mask: torch.Tensor) -> torch.Tensor:
        h = self.enc_cond(cond)
        if self.enc_prev is not None:
            h = h + self.enc_prev(prev)
        out = self.dec(h)
        img = torch.tanh(out[:, :3])
        if self.blend:
            a = torch.sigmoid(out[:, 3:4])
            img = a * cond[:, FACE_CHANNELS:FACE_CHANNELS + 3] + (1.0 - a) * img
        return (img + 1.0) * mask - 1.0


class PatchDiscriminator(nn.Module):
    """pix2pixHD PatchGAN; :meth:`forward` returns every layer's features (last = scores)."""

    def __init__(self, in_ch: int, ndf: int, n_layers: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_ch, ndf, 4, 2, 2),
                                                 nn.LeakyReLU(0.2, True))]
        c = ndf
        for i in range(1, n_layers + 1):
            c_out = min(ndf * 2 ** i, 512)
            stride = 2 if i < n_layers else 1
            blocks.append(nn.Sequential(nn.Conv2d(c, c_out, 4, stride, 2),
                                        nn.InstanceNorm2d(c_out), nn.LeakyReLU(0.2, True)))
            c = c_out
        blocks.append(nn.Sequential(nn.Conv2d(c, 1, 4, 1, 2)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for b in self.blocks:
            x = b(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """PatchGANs on the input and on successively halved copies of it.

    :meth:`forward` takes (B, C, H, W) and returns one feature list per scale.
    """

    def __init__(self, in_ch: int, ndf: int, n_layers: int, num_d: int) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(in_ch, ndf, n_layers)
                                    for _ in range(num_d))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


def build_nets(cfg: RendererConfig) -> dict[str, nn.Module]:
    """The three trainable networks: ``G``, ``D`` (multiscale, on current frame's
    conditions + RGB) and ``Dm`` (mouth, one scale, on the mouth crop of the same)."""
    d_in = cfg.frame_channels + 3
    return {
        "G": Generator(cfg),
        "D": MultiscaleDiscriminator(d_in, cfg.ndf, cfg.n_layers_d, cfg.num_d),
        "Dm": MultiscaleDiscriminator(d_in, cfg.ndf, cfg.n_layers_d, 1),
    }


def n_params(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
