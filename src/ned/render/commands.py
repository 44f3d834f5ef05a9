"""CLI of the render stage: ``ned train-renderer``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ned.errors import NedError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train-renderer`` to the ``ned`` parser."""
    p = subparsers.add_parser(
        "train-renderer", help="train the neural face renderer on clips of one actor "
        "(or a meta-renderer over many actors)",
        description="Train the neural renderer (self-reenactment) and write a renderer file "
        "for `ned edit --renderer`. The last --val-fraction of each clip is held out and "
        "its face-region pixel distance (FAPD) is reported before and after training.")
    p.add_argument("clips", nargs="+", help="video clips (one actor; many for --meta)")
    p.add_argument("-o", "--output", required=True, help="renderer file (.safetensors)")
    p.add_argument("--init", help="renderer file to start from (e.g. a meta-renderer)")
    p.add_argument("--meta", action="store_true", help="train a meta-renderer over actors")
    p.add_argument("--config", choices=("paper", "tiny"),
                   help="architecture preset (default: that of --init, else paper)")
    p.add_argument("--size", type=int, help="override the crop size of the preset")
    p.add_argument("--no-warp", action="store_true",
                   help="no warp-renderer conditioning (it is on by default)")
    p.add_argument("--steps", type=int, default=20000, help="optimisation steps")
    p.add_argument("--minutes", type=float, help="stop after this much wall time")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=3, help="frames per training sequence")
    p.add_argument("--seq-len-double-every", type=int, default=0,
                   help="double the sequence length every N steps (reference curriculum)")
    p.add_argument("--seq-len-max", type=int, default=48, help="longest sequence")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--vgg", default="", help="VGG19 weights file (enables the VGG loss)")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="held-out last part of each clip")
    p.add_argument("--run-dir", help="run directory (default: <output>.run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--sample-every", type=int, default=200, help="PNG sample grid period")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=0,
                   help="held-out FAPD every N steps into stats.jsonl (0: start and end)")
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available; "
                   "under torchrun each process takes the GPU of its LOCAL_RANK)")
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on a GPU")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def _configs(args: argparse.Namespace):  # (RendererConfig, TrainConfig)
    from ned.render.neural.checkpoint import config_mismatch, read_renderer
    from ned.render.neural.config import TrainConfig, preset

    init_cfg = read_renderer(args.init)[0] if args.init else None
    over = {k: v for k, v in (("size", args.size),) if v is not None}
    if args.no_warp:
        over["use_warp"] = False
    if args.config or init_cfg is None:
        cfg = preset(args.config or "paper", **over)
        if init_cfg is not None and config_mismatch(init_cfg, cfg):
            raise NedError(f"--init {args.init} is a {init_cfg.name} renderer of another "
                           f"config ({config_mismatch(init_cfg, cfg)})")
    else:
        cfg = init_cfg if not over else preset(init_cfg.name, **over)
    amp = not args.no_amp
    tcfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
                       seq_len_double_every=args.seq_len_double_every,
                       seq_len_max=max(args.seq_len_max, args.seq_len),
                       lr=args.lr, vgg_path=args.vgg, val_fraction=args.val_fraction,
                       amp=amp, seed=args.seed, sample_every=args.sample_every,
                       checkpoint_every=args.checkpoint_every, eval_every=args.eval_every)
    return cfg, tcfg


def run_train(args: argparse.Namespace) -> int:
    """``ned train-renderer``: prepare the clips, train, write the renderer file."""
    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise NedError(f"output must be a .safetensors file, got {out}")
    for c in args.clips:
        if not os.path.isfile(c):
            raise NedError(f"video not found: {c}")
    if args.vgg and not os.path.isfile(args.vgg):
        raise NedError(f"VGG19 weights not found: {args.vgg}")
    cfg, tcfg = _configs(args)
    import torch

    from ned.render.neural.conditioning import default_warp_fn
    from ned.render.neural.prepare import prepare_clip
    from ned.render.neural.train import init_distributed_from_env, train_renderer

    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world, device = init_distributed_from_env(args.device)
    if args.vgg:
        from ned.render.neural.losses import load_vgg19
        load_vgg19(args.vgg)  # fail before the slow preparation
    quiet = args.quiet or rank > 0
    run_dir = args.run_dir or str(out.with_suffix(".run"))
    clips = [prepare_clip(c, cfg.size, progress=not quiet,
                          store=Path(run_dir) / "data" / f"{i:02d}_{Path(c).stem}"
                          if rank == 0 else None)
             for i, c in enumerate(args.clips)]
    warp_name, warp_fn = default_warp_fn()
    res = train_renderer(clips, cfg, tcfg, out=out, run_dir=run_dir, init=args.init,
                         resume=args.resume, mode="meta" if args.meta else "actor",
                         warp_fn=warp_fn if cfg.use_warp else None, device=device,
                         max_minutes=args.minutes, progress=not quiet)
    if rank > 0:
        return 0
    m = res.metrics
    warp = f"warp conditioning: {warp_name}" if cfg.use_warp else "no warp conditioning"
    procs = f", {world} processes" if world > 1 else ""
    print(f"trained {res.step} steps in {res.seconds / 60:.1f} min ({cfg.name}, {cfg.size} px, "
          f"{warp}{procs}); wrote {res.path}; run directory {run_dir}")
    if "fapd" in m:
        print(f"held-out FAPD ({int(m['frames'])} frames): {m.get('fapd_start', float('nan')):.2f}"
              f" at the start -> {m['fapd']:.2f} trained")
    return 0
