"""Speed of the neural renderer: training step time and streaming inference frames per
second, AMP off and on, measured in one run on random inputs of the right shapes.

    python benchmarks/render_speed.py                      # paper config on a GPU
    python benchmarks/render_speed.py --config tiny --device cpu --steps 5

Prints one line per measurement and the AMP speed-up ratios. On a GPU AMP is float16
autocast + GradScaler; on the CPU it is bfloat16 autocast (usually slower there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ned.render.neural.config import TrainConfig, preset
from ned.render.neural.infer import NeuralRenderer
from ned.render.neural.nets import build_nets, n_params
from ned.render.neural.train import compute_grads


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _batch(cfg, b: int, seq: int, dev: torch.device) -> dict[str, torch.Tensor]:
    s = cfg.size
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(b, seq, 1, s, s)
    mask[..., s // 8: -s // 8, s // 8: -s // 8] = 1
    out = {"cond": torch.rand(b, seq, cfg.cond_channels, s, s, generator=g) * 2 - 1,
           "real": torch.rand(b, seq, 3, s, s, generator=g) * 2 - 1, "mask": mask,
           "prev": torch.rand(b, 3 * cfg.n_prev_outputs, s, s, generator=g) * 2 - 1,
           "mouth": torch.full((b, seq, 2), s * 0.5)}
    return {k: v.to(dev) for k, v in out.items()}


def train_step_seconds(cfg, dev: torch.device, amp: bool, steps: int, b: int, seq: int) -> float:
    """Mean seconds of one full optimisation step (G and D) after 2 warm-up steps."""
    torch.manual_seed(0)
    nets = {k: v.to(dev) for k, v in build_nets(cfg).items()}
    tcfg = TrainConfig(batch_size=b, seq_len=seq, amp=amp)
    opts = {"G": torch.optim.Adam(nets["G"].parameters(), 2e-4, betas=(0.5, 0.999)),
            "D": torch.optim.Adam(list(nets["D"].parameters()) + list(nets["Dm"].parameters()),
                                  2e-4, betas=(0.5, 0.999))}
    scalers = {k: torch.amp.GradScaler(dev.type, enabled=amp and dev.type == "cuda")
               for k in opts}
    batch = _batch(cfg, b, seq, dev)
    times = []
    for i in range(steps + 2):
        _sync(dev)
        t = time.perf_counter()
        for o in opts.values():
            o.zero_grad(set_to_none=True)
        compute_grads(nets, batch, cfg, tcfg, scalers=scalers, amp=amp)
        for k in opts:
            scalers[k].step(opts[k])
            scalers[k].update()
        _sync(dev)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return float(np.mean(times))


def inference_fps(cfg, dev: torch.device, amp: bool, frames: int) -> float:
    """Frames per second of ``NeuralRenderer.step`` (uint8 in, uint8 out) after warm-up."""
    torch.manual_seed(0)
    r = NeuralRenderer(build_nets(cfg)["G"], cfg, device=dev, amp=amp)
    s = cfg.size
    rng = np.random.default_rng(0)
    cond = rng.integers(0, 255, (s, s, 9), dtype=np.uint8)
    warp = rng.integers(0, 255, (s, s, 3), dtype=np.uint8)
    mask = np.full((s, s), 255, np.uint8)
    for _ in range(3):
        r.step(cond, mask, warp)
    _sync(dev)
    t = time.perf_counter()
    for _ in range(frames):
        r.step(cond, mask, warp)
    _sync(dev)
    return frames / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="paper (default on a GPU) or tiny")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cfg = preset(args.config or ("paper" if dev.type == "cuda" else "tiny"))
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU x{args.threads}"
    g_m = n_params(build_nets(cfg)["G"]) / 1e6
    print(f"renderer {cfg.name}: {cfg.size}x{cfg.size}, G {g_m:.1f}M params, warp conditioning "
          f"{cfg.use_warp}; device {name}; batch {args.batch_size} x "
          f"{args.seq_len} frames")
    res = {}
    for amp in (False, True):
        step = train_step_seconds(cfg, dev, amp, args.steps, args.batch_size, args.seq_len)
        fps = inference_fps(cfg, dev, amp, args.frames)
        res[amp] = (step, fps)
        frames = args.batch_size * args.seq_len
        print(f"AMP {'on ' if amp else 'off'}: train step {step * 1000:.1f} ms "
              f"({frames / step:.1f} frames/s), inference {fps:.1f} frames/s")
        if dev.type == "cuda":
            gib = torch.cuda.max_memory_allocated(dev) / 2**30
            print(f"         peak GPU memory {gib:.2f} GiB")
            torch.cuda.reset_peak_memory_stats(dev)
    print(f"AMP speed-up: train x{res[False][0] / res[True][0]:.2f}, "
          f"inference x{res[True][1] / res[False][1]:.2f}")


if __name__ == "__main__":
    main()
