"""CLI: ``ned manipulate`` and ``ned train-manipulator`` (thin layers over the library)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ned.blendshapes import EMOTIONS
from ned.errors import NedError

_ = EMOTIONS  # names listed in --help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the manipulator's sub-commands to the ``ned`` parser."""
    p = sub.add_parser("manipulate", help="translate a clip's expressions to an emotion",
                       description="Translate the expression vectors of an analysed clip "
                       "(FaceTrack .npz from `ned analyze`) to a target emotion or to the "
                       "style of a reference clip, keeping the speech.")
    p.add_argument("track", help="FaceTrack .npz of the clip")
    p.add_argument("-o", "--output", required=True, help="ExpressionTrack .npz to write")
    p.add_argument("--emotion", help=f"target emotion: {', '.join(EMOTIONS)}")
    p.add_argument("--reference", help="FaceTrack .npz of a reference clip (style source)")
    p.add_argument("--intensity", type=float, default=1.0,
                   help="0 = own style, 1 = target style, up to 1.5 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="latent seed in label mode (default 0)")
    p.add_argument("--model", help="manipulator checkpoint (default: the shipped one)")
    p.add_argument("--plot", help="PNG with input vs output curves")
    p.set_defaults(func=_manipulate)

    t = sub.add_parser("train-manipulator", help="train an emotion manipulator",
                       description="Train G, E, M, D on a labels file (from the MEAD / "
                       "Aff-Wild2 builders) or on synthetic data built from talking clips.")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--labels", help="labels JSON of analysed clips (real data)")
    src.add_argument("--synthetic", nargs="+", metavar="TRACK",
                     help="FaceTrack .npz files of talking clips for the synthetic generator")
    t.add_argument("--run-dir", required=True, help="run directory (config, stats, checkpoints)")
    t.add_argument("--iters", type=int, default=2000)
    t.add_argument("--decay-iters", type=int, default=None, help="default: iters / 2")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--g-hidden", type=int, default=512, help="G width (reference 512)")
    t.add_argument("--residual", action="store_true", help="G predicts x + offset")
    t.add_argument("--paired-weight", type=float, default=None,
                   help="paired L1 weight (synthetic only; default 10 there, 0 for real data)")
    t.add_argument("--warmup-iters", type=int, default=0,
                   help="supervised warm-up iterations first (synthetic only; default 0)")
    t.add_argument("--warmup-lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=777)
    t.add_argument("--resume", action="store_true", help="continue run-dir/last")
    t.add_argument("--max-minutes", type=float, default=None)
    t.add_argument("--export", help="write an inference checkpoint here (float16)")
    t.set_defaults(func=_train)


def _manipulate(args: argparse.Namespace) -> int:
    from ned.manipulator.cli_impl import manipulate_file

    manipulate_file(Path(args.track), Path(args.output), emotion=args.emotion,
                    reference=Path(args.reference) if args.reference else None,
                    intensity=args.intensity, seed=args.seed, model=args.model,
                    plot=Path(args.plot) if args.plot else None)
    return 0


def _train(args: argparse.Namespace) -> int:
    from ned.manipulator.cli_impl import train_from_args

    if args.iters < 1 or args.batch < 1:
        raise NedError("--iters and --batch must be at least 1")
    train_from_args(args)
    return 0
