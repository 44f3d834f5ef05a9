"""Training loop of the neural renderer (per actor, or a meta-renderer over many actors).

One step: draw B sequences of L consecutive frames, run the generator recurrently over
each (feeding back its detached outputs), then the generator loss (LSGAN + feature
matching + mouth GAN/FM + L1 [+ VGG19]) and the discriminator loss, both backwarded; with
torch.distributed the gradients are averaged over processes before both Adam steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ned.errors import NedError
from ned.render.neural.checkpoint import config_mismatch, load_into, read_renderer, save_renderer
from ned.render.neural.config import RendererConfig, TrainConfig
from ned.render.neural.data import RendererClip, SequenceSampler, WarpFn
from ned.render.neural.evaluate import evaluate_held_out_fapd, save_sample_grid
from ned.render.neural.losses import VGG19Features, discriminator_loss, generator_loss, load_vgg19
from ned.render.neural.nets import build_nets


@dataclass
class TrainResult:
    """What :func:`train_renderer` did: output path, final step, per-step losses of this
    call (``history``), wall seconds, and metrics of the held-out frames."""

    path: Path | None
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed_from_env(device: str | None = None) -> tuple[int, int, str | None]:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE,
    RANK, LOCAL_RANK, MASTER_ADDR/PORT): NCCL with one GPU per process when CUDA is
    available, gloo on CPUs. Returns (rank, world size, device for this process); a plain
    single-process run returns (0, 1, ``device``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return 0, 1, device
    cuda = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return dist.get_rank(), dist.get_world_size(), device or "cpu"


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """Mixed precision: float16 on CUDA, bfloat16 on the CPU."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def unroll(g: nn.Module, cond: torch.Tensor, prev: torch.Tensor,
           mask: torch.Tensor) -> torch.Tensor:
    """Run the generator over sequences.

    Args:
        cond: (B, L, C, S, S). prev: (B, 3 * P, S, S) outputs before the first step.
        mask: (B, L, 1, S, S).

    Returns:
        (B, L, 3, S, S) generated frames; each step sees the previous (detached) ones.
    """
    fakes = []
    for t in range(cond.shape[1]):
        f = g(cond[:, t], prev if prev.shape[1] else None, mask[:, t])
        fakes.append(f)
        if prev.shape[1]:
            prev = torch.cat([f.detach(), prev[:, :-3]], 1)
    return torch.stack(fakes, 1)


def compute_grads(nets: dict[str, nn.Module], batch: dict[str, torch.Tensor],
                  cfg: RendererConfig, tcfg: TrainConfig, *, vgg: VGG19Features | None = None,
                  scalers: dict[str, Any] | None = None,
                  amp: bool = False) -> tuple[dict[str, float], torch.Tensor]:
    """Backward both objectives on one batch (gradients accumulate in ``.grad``).

    Returns the loss values and the (B, L, 3, S, S) generated frames (detached).
    """
    dev = batch["cond"].device
    scale = (lambda k, x: scalers[k].scale(x)) if scalers else (lambda k, x: x)
    with autocast(dev, amp):
        fake = unroll(nets["G"], batch["cond"], batch["prev"], batch["mask"])
    fc = cfg.frame_channels
    cond = batch["cond"][:, :, :fc].flatten(0, 1)
    real, mask = batch["real"].flatten(0, 1), batch["mask"].flatten(0, 1)
    mouth, fk = batch["mouth"].flatten(0, 1), fake.flatten(0, 1)
    for k in ("D", "Dm"):
        nets[k].requires_grad_(False)
    with autocast(dev, amp):
        g_loss, g_stats = generator_loss(nets, cfg, tcfg, cond, fk, real, mask, mouth, vgg)
    scale("G", g_loss).backward()
    for k in ("D", "Dm"):
        nets[k].requires_grad_(True)
    with autocast(dev, amp):
        d_loss, d_stats = discriminator_loss(nets, cfg, cond, fk, real, mouth)
    scale("D", d_loss).backward()
    stats = {"g_total": float(g_loss.detach()), "d_total": float(d_loss.detach()),
             **g_stats, **d_stats}
    return stats, fake.detach()


def sync_grads(modules: Sequence[nn.Module]) -> None:
    """Average gradients over all processes (one flat all-reduce). No-op alone."""
    rank, world = dist_info()
    if world == 1:
        return
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= world
    i = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[i:i + n].view_as(p.grad))
        i += n


def broadcast_params(modules: Sequence[nn.Module]) -> None:
    """Copy rank 0's parameters to every process."""
    if dist_info()[1] > 1:
        for m in modules:
            for t in m.state_dict().values():
                dist.broadcast(t, 0)


def _resolve_init(init: str | os.PathLike | None,
                  cfg: RendererConfig) -> dict[str, torch.Tensor] | None:
    if not init:
        return None
    icfg, _, tensors = read_renderer(init)
    diff = config_mismatch(icfg, cfg)
    if diff:
        raise NedError(f"--init {init} is a renderer of another config ({diff})")
    return tensors


def _save_state(run: Any, nets: dict[str, nn.Module], opts: dict[str, torch.optim.Optimizer],
                scalers: dict[str, Any], step: int, gen: torch.Generator) -> None:
    from ned.training import save_checkpoint

    meta = {"step": step, "rng_data": gen.get_state().tolist(),
            "rng_torch": torch.get_rng_state().tolist(),
            "scalers": {k: s.state_dict() for k, s in scalers.items()}}
    save_checkpoint(run.checkpoint("last"), nets, meta=meta, optimizers=opts)


def _load_state(stem: Path, nets: dict[str, nn.Module], opts: dict[str, torch.optim.Optimizer],
                scalers: dict[str, Any], gen: torch.Generator) -> int:
    from ned.training import load_checkpoint

    meta = load_checkpoint(stem, nets, optimizers=opts)
    gen.set_state(torch.tensor(meta["rng_data"], dtype=torch.uint8))
    torch.set_rng_state(torch.tensor(meta["rng_torch"], dtype=torch.uint8))
    for k, s in scalers.items():
        if meta["scalers"].get(k):
            s.load_state_dict(meta["scalers"][k])
    return int(meta["step"])


def _setup(clips: Sequence[RendererClip], cfg: RendererConfig, tcfg: TrainConfig,
           device: torch.device, init: str | os.PathLike | None, warp_fn: WarpFn | None,
           rank: int) -> tuple[dict, dict, dict, VGG19Features | None, SequenceSampler,
                               torch.Generator]:
    from ned.training import seed_everything

    init_tensors = _resolve_init(init, cfg)
    vgg = load_vgg19(tcfg.vgg_path).to(device) if tcfg.vgg_path else None
    seed_everything(tcfg.seed)
    nets = build_nets(cfg)
    if init_tensors is not None:
        load_into(nets, init_tensors, init)
    nets = {k: v.to(device) for k, v in nets.items()}
    broadcast_params(list(nets.values()))
    gen = torch.Generator().manual_seed(tcfg.seed + 7919 * rank)
    sampler = SequenceSampler(clips, cfg, tcfg, gen, warp_fn)
    betas = (tcfg.beta1, tcfg.beta2)
    opts = {"G": torch.optim.Adam(nets["G"].parameters(), lr=tcfg.lr, betas=betas),
            "D": torch.optim.Adam(list(nets["D"].parameters()) + list(nets["Dm"].parameters()),
                                  lr=tcfg.lr, betas=betas)}
    use_scaler = tcfg.amp and device.type == "cuda"
    scalers = {k: torch.amp.GradScaler(device.type, enabled=use_scaler) for k in opts}
    return nets, opts, scalers, vgg, sampler, gen


def train_renderer(clips: Sequence[RendererClip], cfg: RendererConfig, tcfg: TrainConfig, *,
                   out: str | os.PathLike | None = None, run_dir: str | os.PathLike | None = None,
                   init: str | os.PathLike | None = None, resume: bool = False,
                   mode: str = "actor", warp_fn: WarpFn | None = None,
                   device: str | torch.device | None = None, max_minutes: float | None = None,
                   progress: bool = False, evaluate_held_out: bool = True,
                   on_step: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Train a renderer on prepared clips.

    Args:
        clips: one actor's clips (``mode="actor"``) or many actors' (``mode="meta"``).
        cfg, tcfg: architecture and training settings.
        out: renderer file to write at the end (rank 0), e.g. ``actor.safetensors``.
        run_dir: run directory (config.json, stats.jsonl, samples/*.png, last.*).
        init: renderer file to start from (e.g. a meta-renderer); must have ``cfg``.
        resume: continue from ``run_dir``'s last checkpoint if there is one.
        mode: "actor" or "meta" (recorded in the file; meta needs >= 2 clips).
        warp_fn: warp renderer for ``cfg.use_warp``.
        device: default CUDA when available, else CPU.
        max_minutes: stop (and save) once this much wall time has passed.
        progress: tqdm bar with the losses (rank 0).
        evaluate_held_out: measure FAPD on the held-out frames before (``fapd_start``) and
            after (``fapd``) training, into ``TrainResult.metrics`` and the stats log.
        on_step: called with (step, losses) after every step.

    Raises:
        NedError: bad clips (too few valid frames), wrong --init config, missing VGG file.
    """
    if mode not in ("actor", "meta"):
        raise NedError(f"unknown training mode {mode!r} (actor or meta)")
    if mode == "meta" and len({c.name for c in clips}) < 2:
        raise NedError("a meta-renderer needs clips of at least 2 actors")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rank, world = dist_info()
    nets, opts, scalers, vgg, sampler, gen = _setup(clips, cfg, tcfg, dev, init, warp_fn, rank)
    run = _open_run(run_dir, cfg, tcfg, resume) if (run_dir and rank == 0) else None
    stem = Path(run_dir) / "last" if run_dir else None
    step = 0
    if resume and stem is not None and stem.with_suffix(".json").exists():
        step = _load_state(stem, nets, opts, scalers, gen)
        if world > 1:  # each process draws its own batches
            gen.manual_seed(tcfg.seed + 7919 * rank + 1_000_003 * step)
    res = TrainResult(path=None, step=step)
    if evaluate_held_out and rank == 0:
        init_m = evaluate_held_out_fapd(nets["G"], cfg, clips, tcfg.val_fraction, warp_fn)
        res.metrics.update({f"{k}_start": v for k, v in init_m.items() if k != "frames"})
        if run is not None and init_m:
            run.log(step, **{f"val_{k}": v for k, v in init_m.items()})
    t0 = time.time()
    bar = _bar(progress and rank == 0, tcfg.steps, step)
    amp = tcfg.amp
    window: list[dict[str, float]] = []
    while step < tcfg.steps and not _out_of_time(t0, max_minutes):
        batch = {k: v.to(dev) for k, v in
                 sampler.sample(tcfg.batch_size, tcfg.seq_len_at(step)).items()}
        for o in opts.values():
            o.zero_grad(set_to_none=True)
        stats, fake = compute_grads(nets, batch, cfg, tcfg, vgg=vgg, scalers=scalers, amp=amp)
        sync_grads(list(nets.values()))
        for k in ("G", "D"):
            scalers[k].step(opts[k])
            scalers[k].update()
        step += 1
        res.history.append(stats)
        window.append(stats)
        if on_step:
            on_step(step, stats)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(g=f"{stats['g_total']:.3f}", d=f"{stats['d_total']:.3f}",
                            l1=f"{stats['g_l1']:.3f}")
        if run is not None:
            window = _periodic(run, tcfg, step, window, t0, batch, fake, cfg, nets, opts,
                               scalers, gen)
            if evaluate_held_out and tcfg.eval_every and step % tcfg.eval_every == 0:
                m = evaluate_held_out_fapd(nets["G"], cfg, clips, tcfg.val_fraction, warp_fn)
                run.log(step, **{f"val_{k}": v for k, v in m.items()})
    if bar is not None:
        bar.close()
    res.step, res.seconds = step, time.time() - t0
    if rank == 0:
        if run is not None:
            _save_state(run, nets, opts, scalers, step, gen)
        if evaluate_held_out:
            end_m = evaluate_held_out_fapd(nets["G"], cfg, clips, tcfg.val_fraction, warp_fn)
            res.metrics.update(end_m)
            if run is not None and end_m:
                run.log(step, **{f"val_{k}": v for k, v in end_m.items()})
        if out:
            info = {"mode": mode, "steps": step, "clips": [c.name for c in clips],
                    "conditioner": clips[0].conditioner, "metrics": res.metrics}
            res.path = save_renderer(out, nets, cfg, **info)
    return res


def _open_run(run_dir: str | os.PathLike, cfg: RendererConfig, tcfg: TrainConfig,
              resume: bool) -> Any:
    from ned.training import RunDir

    t = dataclasses.asdict(tcfg)
    for k in ("steps", "log_every", "sample_every", "checkpoint_every", "eval_every"):
        t.pop(k)
    return RunDir(run_dir, {"renderer": dataclasses.asdict(cfg), "train": t}, resume=resume)


def _out_of_time(t0: float, max_minutes: float | None) -> bool:
    stop = max_minutes is not None and time.time() - t0 > 60.0 * max_minutes
    if dist_info()[1] > 1:
        nccl = dist.get_backend() == "nccl"
        t = torch.tensor([int(stop)], device="cuda" if nccl else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        stop = bool(t)
    return stop


def _bar(enabled: bool, total: int, initial: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="train-renderer", unit="step")


def _periodic(run: Any, tcfg: TrainConfig, step: int, window: list[dict[str, float]],
              t0: float, batch: dict[str, torch.Tensor], fake: torch.Tensor,
              cfg: RendererConfig, nets: dict, opts: dict, scalers: dict,
              gen: torch.Generator) -> list[dict[str, float]]:
    if tcfg.log_every and step % tcfg.log_every == 0:
        mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
        run.log(step, seconds=round(time.time() - t0, 2), **mean)
        window = []
    if tcfg.sample_every and step % tcfg.sample_every == 0:
        save_sample_grid(run.path / "samples" / f"step_{step:07d}.png", batch, fake, cfg)
    if tcfg.checkpoint_every and step % tcfg.checkpoint_every == 0:
        _save_state(run, nets, opts, scalers, step, gen)
    return window
