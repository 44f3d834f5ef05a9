"""Networks of the 3D-based Emotion Manipulator (StarGAN v2 style, on expression windows).

Shapes follow the reference implementation (see docs/manipulator.md): a window is
``(B, N, E)`` float32 expression vectors (N frames, E channels: 52 MediaPipe blendshapes by
default, 51 for a FLAME backend), a style is ``(B, S)`` (S = 16), a latent ``(B, Z)`` (Z = 4).
All modules are plain ``nn.Module``s built from a :class:`NetConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ned.manipulator.netconfig import NetConfig

__all__ = ["Discriminator", "Generator", "MappingNetwork", "NetConfig", "Nets", "StyleEncoder",
           "build_nets", "count_params"]


class Generator(nn.Module):
    """Translator G: (x (B,N,E), style (B,S)) -> (B,N,E); outputs the vectors directly."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        h = cfg.g_hidden
        self.residual = cfg.residual
        self.encode = nn.Sequential(nn.Linear(cfg.exp_dim + cfg.style_dim, h), nn.LeakyReLU(0.2),
                                    nn.Linear(h, h), nn.LeakyReLU(0.2))
        self.lstm = nn.LSTM(h, h, num_layers=2, batch_first=True, bidirectional=True)
        self.decode = nn.Sequential(nn.Linear(2 * h, cfg.g_decoder), nn.LeakyReLU(0.2),
                                    nn.Linear(cfg.g_decoder, cfg.exp_dim))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        s = s[:, None, :].expand(-1, x.shape[1], -1)
        h, _ = self.lstm(self.encode(torch.cat([x, s], dim=-1)))
        out = self.decode(h)
        return x + out if self.residual else out


class _SeqTrunk(nn.Module):
    """Shared trunk of D and E: E -> 512 -> 256 -> BiLSTM -> 128 -> 64 -> out, time-averaged."""

    def __init__(self, cfg: NetConfig, n_out: int) -> None:
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(cfg.exp_dim, 512), nn.LeakyReLU(0.2),
                                    nn.Linear(512, 256), nn.LeakyReLU(0.2))
        self.lstm = nn.LSTM(256, cfg.d_hidden, num_layers=2, batch_first=True,
                            bidirectional=True)
        self.decode = nn.Sequential(nn.Linear(2 * cfg.d_hidden, 128), nn.LeakyReLU(0.2),
                                    nn.Linear(128, 64), nn.LeakyReLU(0.2), nn.Linear(64, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.encode(x))
        return self.decode(h).mean(dim=1)


class Discriminator(nn.Module):
    """D: x (B,N,E), y (B,) domain index -> (B,) realness score of domain y."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.trunk = _SeqTrunk(cfg, cfg.n_domains)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.trunk(x)
        return out.gather(1, y[:, None].long())[:, 0]


class StyleEncoder(nn.Module):
    """E: x (B,N,E) -> style (B,S); one label-free head, as in the reference."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.trunk = _SeqTrunk(cfg, cfg.style_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)


class MappingNetwork(nn.Module):
    """M: z (B,Z), y (B,) domain index -> style (B,S); shared trunk, one head per domain."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        w = cfg.m_hidden
        layers: list[nn.Module] = [nn.Linear(cfg.latent_dim, w), nn.ReLU()]
        for _ in range(2):
            layers += [nn.Linear(w, w), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(w, w), nn.ReLU(), nn.Linear(w, cfg.style_dim))
            for _ in range(cfg.n_domains))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.shared(z)
        out = torch.stack([head(h) for head in self.heads], dim=1)  # (B, K, S)
        return out[torch.arange(len(y), device=out.device), y.long()]


@dataclass
class Nets:
    """The four networks of one manipulator."""

    G: Generator
    E: StyleEncoder
    M: MappingNetwork
    D: Discriminator

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E, "M": self.M, "D": self.D}


def build_nets(cfg: NetConfig) -> Nets:
    """Fresh, randomly initialised networks (seed torch first for reproducibility)."""
    return Nets(G=Generator(cfg), E=StyleEncoder(cfg), M=MappingNetwork(cfg),
                D=Discriminator(cfg))


def count_params(module: nn.Module) -> int:
    """Number of parameters of a module."""
    return sum(p.numel() for p in module.parameters())
