"""``ned edit``: clip in, edited clip out."""

from __future__ import annotations

import argparse
from pathlib import Path

from ned.blendshapes import EMOTIONS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="change the emotion of the face in a clip",
                       description="Change the emotion of the tracked face, keep the speech.")
    p.add_argument("video", help="input video")
    p.add_argument("-o", "--output", required=True,
                   help="edited video to write (.mp4, .m4v, .mov, .mkv, .avi or .webm)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--emotion", help=f"target emotion: {', '.join(EMOTIONS)}")
    g.add_argument("--reference", help="a clip whose expression style to transfer")
    p.add_argument("--intensity", type=float, default=1.0, help="0 .. 1.5 (default 1)")
    p.add_argument("--gain", type=float, default=1.0,
                   help="exaggerate the warp's geometric change (default 1; 1.5-2 for stronger, "
                        "less natural edits)")
    p.add_argument("--start", type=float,
                   help="edit from this time (s, from the clip's first frame)")
    p.add_argument("--end", type=float,
                   help="edit until this time (s, from the clip's first frame)")
    p.add_argument("--face-index", type=int, default=0, help="0 = largest face (default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the emotion latent")
    p.add_argument("--preview", nargs="?", const="", metavar="MP4",
                   help="also write original | edited side by side (default <output>_preview.mp4)")
    p.add_argument("--manipulator", help="manipulator checkpoint (default: shipped)")
    p.add_argument("--renderer", metavar="SAFETENSORS",
                   help="neural renderer from `ned train-renderer` (default: train-free warp)")
    p.add_argument("--crf", type=int, default=16,
                   help="x264 quality, 0 (lossless) .. 51; default 16")
    p.add_argument("--no-cache", action="store_true", help="analyse again, ignore the cache")
    p.add_argument("--no-calibrate", action="store_true",
                   help="skip the per-clip calibration of the edit's strength (start gains)")
    p.add_argument("--cues", default=None, metavar="LIST",
                   help="appearance cues of the warp, comma-separated out of creases, "
                        "interior (the mouth's), eyes, or 'none' (default: creases,eyes, "
                        "and interior for surprised, fear and disgusted, whose posture "
                        "opens the mouth)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ned.editing.api import edit
    from ned.editing.config import parse_cues

    out = Path(args.output)
    preview = None
    if args.preview is not None:
        preview = Path(args.preview) if args.preview else out.with_name(
            f"{out.stem}_preview{out.suffix or '.mp4'}")
    report = edit(args.video, out, emotion=args.emotion, reference=args.reference,
                  intensity=args.intensity, start=args.start, end=args.end,
                  face_index=args.face_index, seed=args.seed, preview=preview,
                  manipulator=args.manipulator, progress=not args.quiet,
                  use_cache=not args.no_cache, crf=args.crf, renderer=args.renderer,
                  gain=args.gain, calibrate=not args.no_calibrate,
                  cues=None if args.cues is None else parse_cues(args.cues))
    print(report.summary())
    if report.preview:
        print(f"{report.preview}: original | edited")
    return 0
