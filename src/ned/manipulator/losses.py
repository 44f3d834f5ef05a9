"""Losses of the manipulator (reference: NED's StarGAN v2 variant on expression windows).

Each function returns ``(loss, dict of floats)``. Shapes: windows ``(B, N, E)`` float32,
domain labels ``(B,)`` int64, styles ``(B, S)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ned.manipulator.nets import Nets


@dataclass(frozen=True)
class LossWeights:
    """Loss weights (reference values; ``paired`` = 0 is the reference algorithm).

    Attributes:
        sty: style reconstruction L1(E(G(x, s)), s).
        cyc: cycle consistency L1(G(G(x, s), E(x)), x).
        speech: speech preservation, minus the Pearson correlation over the window of every
            speech channel (x vs G(x, s), and G(x, s) vs the cycle), averaged over channels.
        paired: L1 to a known target window (only for synthetic data, which has one).
        paired_speech: factor of the paired L1 on the speech channels (only used when
            ``paired`` > 0). The speech loss's gradient on those channels scales with
            1 / (the window's spread) and was measured at 8x the paired gradient there,
            which shrinks Adam's steps: with a factor of 1 an emotion's posture on a speech
            channel (disgust's raised upper lip, a grin's removal) was barely learnt
            (docs/manipulator.md).
    """

    sty: float = 1.0
    cyc: float = 1.0
    speech: float = 1.0
    paired: float = 0.0
    paired_speech: float = 4.0


def pearson_over_time(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Pearson correlation along dim 1 of (B, N, C) tensors -> (B, C)."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    num = (a * b).sum(dim=1)
    den = torch.sqrt((a * a).sum(dim=1) * (b * b).sum(dim=1) + eps)
    return num / den


def paired_l1(fake: torch.Tensor, target: torch.Tensor, speech_idx: list[int],
              w: LossWeights) -> torch.Tensor:
    """Mean L1 to a known target, the speech channels weighted by ``w.paired_speech``."""
    err = (fake - target).abs()
    if w.paired_speech == 1.0:
        return err.mean()
    scale = torch.ones(err.shape[-1], dtype=err.dtype)
    scale[speech_idx] = w.paired_speech
    return (err * scale).mean()


def adv_loss(logits: torch.Tensor, target: float) -> torch.Tensor:
    """LSGAN loss: mean squared distance of the scores to ``target`` (1 real, 0 fake)."""
    return F.mse_loss(logits, torch.full_like(logits, target))


def d_loss(nets: Nets, x: torch.Tensor, y: torch.Tensor, y_trg: torch.Tensor,
           s_trg: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Discriminator loss: real windows of their own domain vs translations to y_trg.

    Args:
        x: (B, N, E) real windows, y: (B,) their domains, y_trg: (B,) target domains,
        s_trg: (B, S) target styles (from M or from E of a reference; no gradient flows).
    """
    real = adv_loss(nets.D(x, y), 1.0)
    with torch.no_grad():
        fake_x = nets.G(x, s_trg)
    fake = adv_loss(nets.D(fake_x, y_trg), 0.0)
    loss = real + fake
    return loss, {"real": real.item(), "fake": fake.item()}


def g_loss(nets: Nets, x: torch.Tensor, y_trg: torch.Tensor, s_trg: torch.Tensor,
           speech_idx: list[int], w: LossWeights, x_trg: torch.Tensor | None = None,
           ) -> tuple[torch.Tensor, dict[str, float]]:
    """Generator-side loss for one target style.

    Args:
        x: (B, N, E) source windows; y_trg: (B,) target domains; s_trg: (B, S) target styles.
        speech_idx: indices of the speech channels (jawOpen first).
        w: loss weights.
        x_trg: (B, N, E) known target windows, used when ``w.paired > 0``.
    """
    fake = nets.G(x, s_trg)
    adv = adv_loss(nets.D(fake, y_trg), 1.0)
    sty = (nets.E(fake) - s_trg).abs().mean()
    s_org = nets.E(x)
    cyc_x = nets.G(fake, s_org)
    cyc = (cyc_x - x).abs().mean()
    rho = (pearson_over_time(x[..., speech_idx], fake[..., speech_idx]).mean()
           + pearson_over_time(fake[..., speech_idx], cyc_x[..., speech_idx]).mean())
    loss = adv + w.sty * sty + w.cyc * cyc - w.speech * rho
    stats = {"adv": adv.item(), "sty": sty.item(), "cyc": cyc.item(), "rho": rho.item() / 2}
    if w.paired > 0 and x_trg is not None:
        paired = paired_l1(fake, x_trg, speech_idx, w)
        loss = loss + w.paired * paired
        stats["paired"] = paired.item()
    return loss, stats
