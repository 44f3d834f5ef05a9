"""Training loop of the manipulator (one function, :func:`train_manipulator`).

Schedule per iteration, as in the reference: D twice (target style from M, then from E of a
reference window), then G+M+E on the label-based loss, then G alone on the
reference-based loss. Adam (lr 1e-4, betas (0, 0.99)) for every net, lr decayed linearly to
0 over the last ``decay_iters`` iterations. Batches come from a ``sampler(rng, batch)``
callable; the rng of step i is seeded by (seed, i), so a resumed run sees the same data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ned.blendshapes import BLENDSHAPE_NAMES
from ned.errors import NedError
from ned.manipulator.losses import (
    LossWeights,
    d_loss,
    g_loss,
    paired_l1,
    pearson_over_time,
)
from ned.manipulator.nets import NetConfig, Nets, build_nets
from ned.manipulator.speech import SPEECH_CHANNELS, speech_indices
from ned.training import RunDir, load_checkpoint, save_checkpoint, seed_everything

Sampler = Callable[[np.random.Generator, int], dict[str, np.ndarray]]
FORMAT = "ned-manipulator"


@dataclass(frozen=True)
class TrainConfig:
    """Resolved training options (written to the run's config.json).

    Attributes:
        net: network sizes.
        names: channel names (length ``net.exp_dim``).
        speech_channels: names of the speech channels protected by the speech loss.
        window: frames per window.
        iters: total iterations; decay_iters: final iterations with linear lr decay.
        batch, lr, betas: optimiser settings (reference: 64, 1e-4, (0, 0.99)).
        weights: loss weights.
        seed: seed of initialisation and data.
        log_every, ckpt_every: iterations between stats lines / checkpoints.
        warmup_iters: first iterations of supervised warm-up (synthetic data only, needs
            paired targets): G, M, E trained on the paired L1 of both target styles
            (latent style vs ``x_lab``, reference style vs ``x_trg``), the
            self-reconstruction L1(G(x, E(x)), x) and the speech loss; no adversary.
            0 = the reference schedule only.
        warmup_lr: learning rate at the start of the warm-up (linear down to ``lr``).
        data: free-form description of the data (for the record).
    """

    net: NetConfig = field(default_factory=NetConfig)
    names: tuple[str, ...] = BLENDSHAPE_NAMES
    speech_channels: tuple[str, ...] = SPEECH_CHANNELS
    window: int = 10
    iters: int = 1000
    decay_iters: int = 500
    batch: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.99)
    weights: LossWeights = field(default_factory=LossWeights)
    seed: int = 777
    log_every: int = 10
    ckpt_every: int = 100
    warmup_iters: int = 0
    warmup_lr: float = 1e-3
    data: str = ""


def _optimizers(nets: Nets, cfg: TrainConfig) -> dict[str, torch.optim.Adam]:
    return {k: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=cfg.betas)
            for k, m in nets.modules().items()}


def _set_lr(opts: dict[str, torch.optim.Adam], cfg: TrainConfig, step: int) -> float:
    start = cfg.iters - cfg.decay_iters
    lr = cfg.lr * (1.0 if step < start else max(0.0, (cfg.iters - step) / max(cfg.decay_iters, 1)))
    if step < cfg.warmup_iters:  # linear from warmup_lr down to lr
        lr = cfg.warmup_lr + (cfg.lr - cfg.warmup_lr) * step / cfg.warmup_iters
    for o in opts.values():
        for g in o.param_groups:
            g["lr"] = lr
    return lr


def _step(opts: dict[str, torch.optim.Adam], names: str, loss: torch.Tensor) -> None:
    for o in opts.values():
        o.zero_grad(set_to_none=True)
    loss.backward()
    for k in names:
        opts[k].step()


def train_step(nets: Nets, opts: dict[str, torch.optim.Adam], batch: dict[str, torch.Tensor],
               cfg: TrainConfig, speech_idx: list[int], gen: torch.Generator,
               ) -> dict[str, float]:
    """One iteration of the reference schedule; returns the stats of this step."""
    x, y, y_trg, x_ref = batch["x"], batch["y"], batch["y_trg"], batch["x_ref"]
    x_trg = batch.get("x_trg")
    x_lab = batch.get("x_lab", x_trg)
    z = torch.randn(len(x), cfg.net.latent_dim, generator=gen)
    with torch.no_grad():
        s_lat, s_ref = nets.M(z, y_trg), nets.E(x_ref)
    stats: dict[str, float] = {}
    for tag, s in (("lat", s_lat), ("ref", s_ref)):
        loss, st = d_loss(nets, x, y, y_trg, s)
        _step(opts, "D", loss)
        stats.update({f"D_{tag}_{k}": v for k, v in st.items()})
    loss, st = g_loss(nets, x, y_trg, nets.M(z, y_trg), speech_idx, cfg.weights, x_lab)
    _step(opts, "GME", loss)
    stats.update({f"G_lat_{k}": v for k, v in st.items()})
    with torch.no_grad():
        s_ref = nets.E(x_ref)
    loss, st = g_loss(nets, x, y_trg, s_ref, speech_idx, cfg.weights, x_trg)
    _step(opts, "G", loss)
    stats.update({f"G_ref_{k}": v for k, v in st.items()})
    return stats


def warmup_step(nets: Nets, opts: dict[str, torch.optim.Adam], batch: dict[str, torch.Tensor],
                cfg: TrainConfig, speech_idx: list[int], gen: torch.Generator,
                ) -> dict[str, float]:
    """One supervised warm-up iteration (see ``TrainConfig.warmup_iters``)."""
    if "x_trg" not in batch:
        raise NedError("warm-up needs paired targets (synthetic data)")
    x, y_trg, x_ref, x_trg = batch["x"], batch["y_trg"], batch["x_ref"], batch["x_trg"]
    x_lab = batch.get("x_lab", x_trg)
    z = torch.randn(len(x), cfg.net.latent_dim, generator=gen)
    fake_lat = nets.G(x, nets.M(z, y_trg))
    fake_ref = nets.G(x, nets.E(x_ref))
    own = nets.G(x, nets.E(x))
    p_lat = paired_l1(fake_lat, x_lab, speech_idx, cfg.weights)
    p_ref = paired_l1(fake_ref, x_trg, speech_idx, cfg.weights)
    p_own = (own - x).abs().mean()
    rho = pearson_over_time(x[..., speech_idx], fake_lat[..., speech_idx]).mean()
    w = cfg.weights
    loss = w.paired * (p_lat + p_ref) + w.cyc * p_own - w.speech * rho
    _step(opts, "GME", loss)
    return {"W_paired_lat": p_lat.item(), "W_paired_ref": p_ref.item(),
            "W_own": p_own.item(), "W_rho": rho.item()}


def _to_torch(b: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in b.items()}


def train_manipulator(run_dir: str | Path, cfg: TrainConfig, sampler: Sampler, *,
                      resume: bool = False, progress: bool = True,
                      max_seconds: float | None = None) -> Nets:
    """Train G, E, M, D; returns the trained nets.

    Args:
        run_dir: run directory (config.json, stats.jsonl, ``last`` checkpoint, ``final``).
        cfg: resolved options.
        sampler: ``sampler(rng, batch)`` -> dict of numpy arrays ``x`` (B,N,E) float32,
            ``y`` (B,), ``y_trg`` (B,) int64, ``x_ref`` (B,N,E) reference windows of domain
            ``y_trg``, optionally paired targets: ``x_trg`` (B,N,E) for the reference
            style (the reference's own pattern) and ``x_lab`` (B,N,E) for the latent style
            (the target at its table level; ``x_trg`` when absent).
        resume: continue from ``run_dir/last`` if present (same config required).
        progress: show a progress bar.
        max_seconds: stop early (checkpointing) after this many seconds.
    """
    if len(cfg.names) != cfg.net.exp_dim:
        raise NedError(f"{len(cfg.names)} channel names for exp_dim {cfg.net.exp_dim}")
    run = RunDir(run_dir, cfg, resume=resume)
    seed_everything(cfg.seed)
    nets = build_nets(cfg.net)
    opts = _optimizers(nets, cfg)
    speech_idx = speech_indices(cfg.names, cfg.speech_channels)
    start = 0
    if resume and run.checkpoint("last").with_suffix(".safetensors").exists():
        start = int(load_checkpoint(run.checkpoint("last"), nets.modules(), opts)["step"])
    t0 = time.time()
    bar = tqdm(range(start, cfg.iters), initial=start, total=cfg.iters, disable=not progress,
               desc="train-manipulator", unit="it")
    step = start
    for step in bar:
        lr = _set_lr(opts, cfg, step)
        rng = np.random.default_rng([cfg.seed, step])
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        step_fn = warmup_step if step < cfg.warmup_iters else train_step
        stats = step_fn(nets, opts, _to_torch(sampler(rng, cfg.batch)), cfg, speech_idx, gen)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.iters:
            run.log(done, lr=lr, seconds=time.time() - t0, **stats)
            bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()
                             if k in ("W_paired_lat", "G_lat_rho", "G_lat_paired")})
        out_of_time = max_seconds is not None and time.time() - t0 > max_seconds
        if done % cfg.ckpt_every == 0 or done == cfg.iters or out_of_time:
            save_checkpoint(run.checkpoint("last"), nets.modules(), _meta(cfg, done), opts)
        if out_of_time:
            break
    else:
        step = cfg.iters - 1
    if step + 1 >= cfg.iters:
        save_checkpoint(run.checkpoint("final"), nets.modules(), _meta(cfg, cfg.iters))
    return nets


def _meta(cfg: TrainConfig, step: int) -> dict:
    return {"format": FORMAT, "version": 1, "step": step, "net": asdict(cfg.net),
            "names": list(cfg.names), "speech_channels": list(cfg.speech_channels),
            "window": cfg.window, "seed": cfg.seed, "data": cfg.data}


def export_manipulator(nets: Nets, cfg: TrainConfig, path: str | Path,
                       dtype: torch.dtype = torch.float16, extra: dict | None = None) -> Path:
    """Write an inference checkpoint (G, E, M only) ``<path>.safetensors`` + ``.json``.

    Args:
        path: destination; a ``.safetensors`` suffix is optional.
        dtype: storage dtype of the weights (float16 halves the size).
        extra: more metadata (e.g. training time) stored in the JSON.
    """
    stem = Path(path)
    if stem.suffix == ".safetensors":
        stem = stem.with_suffix("")
    meta = {**_meta(cfg, cfg.iters), "storage_dtype": str(dtype).replace("torch.", ""),
            **(extra or {})}
    mods = {"G": nets.G, "E": nets.E, "M": nets.M}
    return save_checkpoint(stem, mods, meta, dtype=dtype)
