"""Sizes of the manipulator's networks (no torch: inference reads it too)."""

from __future__ import annotations

from dataclasses import dataclass

from ned.blendshapes import EMOTIONS, N_BLENDSHAPES


@dataclass(frozen=True)
class NetConfig:
    """Sizes of the four networks (defaults = the reference configuration).

    Attributes:
        exp_dim: channels per frame (52 for MediaPipe blendshapes, 51 for FLAME jaw+50).
        style_dim: style vector size.
        latent_dim: mapping-network input size.
        n_domains: number of emotion domains (7: ``ned.blendshapes.EMOTIONS``).
        g_hidden: translator LSTM hidden size (per direction) and encoder width.
        g_decoder: translator decoder width.
        d_hidden: discriminator / style-encoder LSTM hidden size (per direction).
        m_hidden: mapping-network width.
        residual: G outputs x + its decoder output instead of the vectors directly (the
            reference outputs them directly; the residual form learns far faster, which the
            CPU-trained default needs; see docs/manipulator.md).
    """

    exp_dim: int = N_BLENDSHAPES
    style_dim: int = 16
    latent_dim: int = 4
    n_domains: int = len(EMOTIONS)
    g_hidden: int = 512
    g_decoder: int = 1024
    d_hidden: int = 128
    m_hidden: int = 64
    residual: bool = False
