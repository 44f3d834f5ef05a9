"""Reproduce the shipped default manipulator (src/ned/assets/manipulator_default.*).

    nice .venv/bin/python scripts/train_default_manipulator.py [--run-dir runs/manip_default]

Data: the synthetic generator (ned.manipulator.synthetic) over the real speech track of
tests/data/carphone.mp4 (its blendshapes, committed as tests/manipulator/data/
speech_tracks.npz; ``--extract`` re-measures them from the clips). tests/data/single_face.mp4
is held out for the acceptance numbers, which the script prints and writes to
<run-dir>/eval.json. One thread (torch.set_num_threads(1)); see docs/manipulator.md for
the measured wall time.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ned.facs import GROUPS, REST, TARGETS
from ned.manipulator.evaluate import (
    fit_lip_gap_model,
    group_levels,
    group_means,
    intensity_response,
    lip_gap_correlations,
    reference_shift,
    self_vs_cross,
    speech_correlations,
    target_misses,
)
from ned.manipulator.infer import load_manipulator, translate
from ned.manipulator.losses import LossWeights
from ned.manipulator.nets import NetConfig
from ned.manipulator.synthetic import SyntheticEmotionData, synthetic_batch
from ned.manipulator.train import TrainConfig, export_manipulator, train_manipulator

ROOT = Path(__file__).resolve().parents[1]
TRACKS = ROOT / "tests" / "manipulator" / "data" / "speech_tracks.npz"
ASSET = ROOT / "src" / "ned" / "assets" / "manipulator_default"
TRAIN_CLIP, HELD_OUT = "carphone", "single_face"

#: The shipped configuration (docs/manipulator.md explains each departure from the reference).
CONFIG = TrainConfig(
    net=NetConfig(g_hidden=256, g_decoder=512, residual=True),
    warmup_iters=1500, warmup_lr=1e-3, iters=1500, decay_iters=0, lr=1e-4, batch=64,
    weights=LossWeights(sty=1.0, cyc=1.0, speech=1.0, paired=10.0, paired_speech=4.0), seed=777,
    log_every=20, ckpt_every=100, data=f"synthetic over the speech of {TRAIN_CLIP}.mp4")
CLIPS = (TRAIN_CLIP, HELD_OUT)


def extract_tracks(path: Path) -> None:
    """Re-measure the speech-track fixture from the sample clips (MediaPipe, video mode)."""
    from ned.analysis import analyze  # the analysis stage (FaceLandmarker in video mode)
    from ned.topology import inner_lip_gap

    out = {}
    for name in (TRAIN_CLIP, HELD_OUT):
        tr = analyze(str(ROOT / "tests" / "data" / f"{name}.mp4"))
        out[f"{name}_blendshapes"] = tr.blendshapes.astype(np.float32)
        out[f"{name}_lip_gap"] = inner_lip_gap(tr.landmarks_raw).astype(np.float32)
        out[f"{name}_valid"] = tr.valid
        out[f"{name}_fps"] = np.float32(tr.fps)
    np.savez_compressed(path, **out)


def evaluate(stem: Path, z: np.lib.npyio.NpzFile, train_clip: str = TRAIN_CLIP) -> dict:
    """Acceptance numbers of a checkpoint on the held-out and the training clip."""
    held_out = next(c for c in CLIPS if c != train_clip)
    manip = load_manipulator(stem)
    res: dict = {}
    gap_model = fit_lip_gap_model(z[f"{train_clip}_blendshapes"], z[f"{train_clip}_lip_gap"],
                                  manip.names)
    for name in (held_out, train_clip):
        x = z[f"{name}_blendshapes"].astype(np.float32)
        v = z[f"{name}_valid"].astype(bool)
        inputs = group_means(x, v, manip.names)
        levels = group_levels(manip, x, v)
        res[name] = {"input_groups": inputs, "group_levels": levels,
                     "misses": target_misses(levels, inputs),
                     "speech_r": speech_correlations(manip, x, v),
                     "speech_motion_r": speech_correlations(manip, x, v, highpass=9),
                     "mean_abs_change": self_vs_cross(manip, x, v),
                     "lip_gap_model_r": lip_gap_correlations(manip, gap_model, x, v),
                     "intensity_0.5": intensity_response(manip, x, v, 0.5)}
    # reference mode: the talking, near-neutral carphone clip toward single_face's smile
    xc = z[f"{TRAIN_CLIP}_blendshapes"].astype(np.float32)
    ref = z[f"{HELD_OUT}_blendshapes"].astype(np.float32)
    vc, vr = np.ones(len(xc), bool), np.ones(len(ref), bool)
    res["reference_mode"] = reference_shift(manip, xc, vc, ref,
                                            ("mouthSmileLeft", "mouthSmileRight"))
    res["reference_mode"]["groups"] = group_means(translate(manip, xc, vc, reference=ref), vc,
                                                  manip.names)
    res["reference_mode"]["reference_groups"] = group_means(ref, vr, manip.names)
    return res


def print_table(res: dict, clips: tuple[str, ...]) -> None:
    """Group levels per emotion and clip against the target table (markdown)."""
    for name in clips:
        r = res[name]
        print(f"\n{name} (input: " + ", ".join(f"{g} {v:.2f}" for g, v in
                                                r["input_groups"].items()) + ")")
        print("| target | " + " | ".join(GROUPS) + " |")
        print("| --- " * (len(GROUPS) + 1) + "|")
        for emo, lv in r["group_levels"].items():
            cells = [f"**{v:.2f}** ({TARGETS[emo][g]})" if g in TARGETS[emo] else f"{v:.2f}"
                     for g, v in lv.items()]
            print(f"| {emo} | " + " | ".join(cells) + " |")
        print(f"misses (target +-0.1, others <= {REST + 0.05:.2f}):", r["misses"] or "none")


def float16_loss(run_dir: Path, z: np.lib.npyio.NpzFile) -> float:
    """Max |output(float16 weights) - output(float32 weights)| on the held-out clip."""
    x = z[f"{HELD_OUT}_blendshapes"].astype(np.float32)
    v = np.ones(len(x), bool)
    outs = [translate(load_manipulator(p), x, v, emotion=e)
            for p in (run_dir / "export32", ASSET) for e in ("happy", "angry")]
    return float(max(np.abs(outs[0] - outs[2]).max(), np.abs(outs[1] - outs[3]).max()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "manipulator_default")
    ap.add_argument("--out", type=Path, default=ASSET, help="exported checkpoint stem")
    ap.add_argument("--extract", action="store_true", help="re-measure the speech tracks")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--train-clip", choices=CLIPS, default=TRAIN_CLIP,
                    help="speech source (the other clip is held out); a leave-one-out check")
    ap.add_argument("--warmup-iters", type=int, help=f"default {CONFIG.warmup_iters}")
    ap.add_argument("--iters", type=int, help=f"default {CONFIG.iters} (warm-up included)")
    args = ap.parse_args()
    cfg = replace(CONFIG, data=f"synthetic over the speech of {args.train_clip}.mp4")
    if args.warmup_iters is not None:
        cfg = replace(cfg, warmup_iters=args.warmup_iters)
    if args.iters is not None:
        cfg = replace(cfg, iters=args.iters, decay_iters=min(cfg.decay_iters,
                                                             args.iters - cfg.warmup_iters))
    held_out = next(c for c in CLIPS if c != args.train_clip)
    torch.set_num_threads(1)
    if args.extract:
        extract_tracks(TRACKS)
    z = np.load(TRACKS)
    if not args.eval_only:
        data = SyntheticEmotionData([z[f"{args.train_clip}_blendshapes"]
                                     [z[f"{args.train_clip}_valid"]]])
        t0 = time.time()
        nets = train_manipulator(args.run_dir, cfg, lambda r, b: synthetic_batch(data, r, b),
                                 resume=args.resume)
        wall = time.time() - t0
        extra = {"train_wall_seconds": round(wall, 1), "held_out_clip": f"{held_out}.mp4"}
        export_manipulator(nets, cfg, args.run_dir / "export32", torch.float32, extra)
        export_manipulator(nets, cfg, args.out, torch.float16, extra)
        print(f"trained in {wall / 60:.1f} min")
    res = evaluate(args.out, z, args.train_clip)
    if (args.run_dir / "export32.safetensors").exists() and args.out == ASSET:
        res["float16_max_abs_diff"] = float16_loss(args.run_dir, z)
    (args.run_dir / "eval.json").write_text(json.dumps(res, indent=1))
    for name in (held_out, args.train_clip):
        r = res[name]
        for ch in r["speech_r"]["neutral"]:
            rs = {e: round(v[ch], 3) for e, v in r["speech_r"].items()}
            hp = {e: round(v[ch], 3) for e, v in r["speech_motion_r"].items()}
            print(f"{name}: {ch} r per target {rs}; motion (9-frame high-pass) r {hp}")
        print(f"{name}: predicted lip-gap r " + json.dumps(
            {k: round(v, 3) for k, v in r["lip_gap_model_r"].items()}))
        print(f"{name}: mean |change| " + json.dumps(
            {k: round(v, 4) for k, v in r["mean_abs_change"].items()}))
        print(f"{name}: intensity 0.5 / 1 " + json.dumps(
            {k: {a: round(b, 2) for a, b in v.items()} for k, v in r["intensity_0.5"].items()}))
    print_table(res, (held_out, args.train_clip))
    rm = res["reference_mode"]
    print("reference mode (carphone -> single_face): smile distance to the reference's mean "
          f"before / after {rm['before']:.3f} / {rm['after']:.3f}, to its median after "
          f"{rm['after_median']:.3f}, shift {rm['shift']:.3f}; groups (output, reference) "
          + json.dumps(
              {g: [round(rm["groups"][g], 2), round(rm["reference_groups"][g], 2)]
               for g in rm["groups"]}))
    print("float16 diff", res.get("float16_max_abs_diff"))


if __name__ == "__main__":
    main()
