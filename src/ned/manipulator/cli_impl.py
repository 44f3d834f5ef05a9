"""File-level operations behind the CLI (kept out of commands.py so ``ned --help`` stays fast)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from ned.atomic import atomic_write, check_output
from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.records import ExpressionTrack, FaceTrack

PLOT_CHANNELS = ("mouthSmileLeft", "browDownLeft", "browInnerUp", "browOuterUpLeft",
                 "eyeWideLeft", "mouthFrownLeft")


def _check_args(emotion: str | None, reference: Path | None, intensity: float) -> None:
    from ned.blendshapes import INTENSITY_RANGE

    if (emotion is None) == (reference is None):
        raise NedError("give exactly one of --emotion or --reference")
    if emotion is not None and emotion not in EMOTIONS:
        raise NedError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    lo, hi = INTENSITY_RANGE
    if not lo <= intensity <= hi:
        raise NedError(f"--intensity {intensity} is outside [{lo}, {hi}]")


def _model_files(model: str | None) -> tuple[Path, ...]:
    """A checkpoint's two files (nothing for the shipped default)."""
    if model is None:
        return ()
    stem = Path(model)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def manipulate_file(track: Path, output: Path, *, emotion: str | None = None,
                    reference: Path | None = None, intensity: float = 1.0, seed: int = 0,
                    model: str | None = None, plot: Path | None = None) -> ExpressionTrack:
    """Read a FaceTrack, translate it, write an ExpressionTrack (and optionally a plot)."""
    from ned.manipulator.infer import load_manipulator, translate

    _check_args(emotion, reference, intensity)
    inputs = (track, reference, *_model_files(model))
    check_output(output, inputs=inputs, suffixes=(".npz",))
    if plot is not None:
        check_output(plot, inputs=(*inputs, output), suffixes=(".png",), what="--plot")
    for path, what in ((track, "track"), (reference, "reference")):
        if path is not None and Path(path).is_dir():
            raise NedError(f"{what} {path} is a folder, not a FaceTrack .npz")
    ft = FaceTrack.load(track)
    if not ft.valid.any():
        raise NedError(f"{track} has no frame with a face")
    ref = ref_valid = None
    if reference is not None:
        rt = FaceTrack.load(reference)
        if not rt.valid.any():
            raise NedError(f"reference {reference} has no valid frame")
        ref, ref_valid = rt.blendshapes, rt.valid
    manip = load_manipulator(model)
    if manip.net.exp_dim != ft.blendshapes.shape[1]:
        raise NedError(f"model expects {manip.net.exp_dim} channels, track has "
                       f"{ft.blendshapes.shape[1]}")
    out = translate(manip, ft.blendshapes, ft.valid, emotion=emotion, reference=ref,
                    reference_valid=ref_valid, intensity=intensity, seed=seed)
    rec = ExpressionTrack(expressions=out, valid=ft.valid.copy(), names=manip.names,
                          fps=ft.fps, target=emotion or f"reference:{reference}",
                          intensity=float(intensity), seed=int(seed) if emotion else -1)
    if plot is not None:
        plot_curves(ft.blendshapes, out, ft.valid, manip.names, manip.speech_channels, plot,
                    title=f"{track.name} -> {rec.target} (intensity {intensity:g})")
    rec.save(output)
    return rec


def plot_curves(x: np.ndarray, y: np.ndarray, valid: np.ndarray, names: tuple[str, ...],
                speech: tuple[str, ...], path: Path, title: str = "") -> Path:
    """PNG: input (dashed) vs output (solid) of the speech and main emotion channels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(x))
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for ax, chans, label in ((axes[0], speech[:4], "speech channels"),
                             (axes[1], PLOT_CHANNELS, "emotion channels")):
        for k, c in enumerate(chans):
            if c not in names:
                continue
            i, col = names.index(c), f"C{k}"
            ax.plot(t, np.where(valid, x[:, i], np.nan), "--", color=col, lw=1)
            ax.plot(t, np.where(valid, y[:, i], np.nan), "-", color=col, lw=1.5, label=c)
        ax.set_ylabel(label)
        ax.legend(fontsize=7, ncol=4, loc="upper right")
    axes[1].set_xlabel("frame (dashed: input, solid: output)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    try:
        with atomic_write(path) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
    finally:
        plt.close(fig)
    return path


def train_from_args(args: argparse.Namespace) -> None:
    """``ned train-manipulator``: build the sampler and config from CLI options, train."""
    import torch

    from ned.manipulator.data import SequenceDataset
    from ned.manipulator.losses import LossWeights
    from ned.manipulator.nets import NetConfig
    from ned.manipulator.synthetic import SyntheticEmotionData, synthetic_batch
    from ned.manipulator.train import TrainConfig, export_manipulator, train_manipulator

    if args.synthetic:
        tracks = [FaceTrack.load(p) for p in args.synthetic]
        data = SyntheticEmotionData([t.blendshapes[t.valid] for t in tracks])
        sampler = lambda rng, b: synthetic_batch(data, rng, b)  # noqa: E731
        paired = 10.0 if args.paired_weight is None else args.paired_weight
        desc = "synthetic:" + ",".join(Path(p).name for p in args.synthetic)
    else:
        if args.paired_weight or args.warmup_iters:
            raise NedError("--paired-weight and --warmup-iters need --synthetic (real data has "
                           "no paired target)")
        ds = SequenceDataset.from_labels(args.labels)
        sampler, paired, desc = ds.sample, 0.0, f"labels:{args.labels}"
    h = args.g_hidden
    cfg = TrainConfig(net=NetConfig(g_hidden=h, g_decoder=2 * h, residual=args.residual),
                      iters=args.iters, batch=args.batch, lr=args.lr, seed=args.seed,
                      decay_iters=args.iters // 2 if args.decay_iters is None else args.decay_iters,
                      weights=LossWeights(paired=paired), data=desc,
                      warmup_iters=args.warmup_iters, warmup_lr=args.warmup_lr)
    cfg = replace(cfg, ckpt_every=max(1, min(cfg.ckpt_every, cfg.iters)))
    nets = train_manipulator(args.run_dir, cfg, sampler, resume=args.resume,
                             max_seconds=args.max_minutes * 60 if args.max_minutes else None)
    if args.export:
        export_manipulator(nets, cfg, args.export, dtype=torch.float16)
