"""``ned edit``: clip in, edited clip out."""

from __future__ import annotations

import argparse
from pathlib import Path

from ned.blendshapes import EMOTIONS
from ned.editing.api import DEFAULT_MARK

#: The expression controls' names (``ned.editing.controls.NAMES``; listed here so the
#: parser stays light).
CONTROL_NAMES = ("smile", "frown", "brow_raise_inner", "brow_raise_outer", "brow_lower",
                 "eyes_wide", "squint", "upper_lip_raise", "lip_press", "lip_stretch",
                 "gaze_right", "gaze_up")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="change the emotion of the face in a clip",
                       description="Change the emotion of the tracked face, keep the speech.")
    p.add_argument("video", help="input video")
    p.add_argument("-o", "--output", required=True,
                   help="edited video to write (.mp4, .m4v, .mov, .mkv, .avi or .webm)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--emotion", help=f"target emotion: {', '.join(EMOTIONS)}")
    g.add_argument("--reference", help="a clip whose expression style to transfer")
    g.add_argument("--timeline", metavar="JSON",
                   help="emotions and controls over time: a timeline file (docs/controls.md)")
    g.add_argument("--segments", metavar="LIST",
                   help="emotions over time, short form: '0-2.5:happy,2.5-6:sad@0.6' "
                        "(start-end:emotion[@intensity], end may be left out)")
    p.add_argument("--adjust", metavar="LIST",
                   help="expression controls in [-1, 1], on top of the emotion or alone: "
                        f"name=value,... out of {', '.join(CONTROL_NAMES)} "
                        "(e.g. smile=0.5,brow_lower=0.3); the speech keeps its motion")
    p.add_argument("--mark", nargs="?", const=DEFAULT_MARK, metavar="TEXT",
                   help=f"draw a visible mark on every frame (default text: {DEFAULT_MARK!r}); "
                        "every output names ned and the edit in its metadata either way")
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
    p.add_argument("--crf", type=int, default=None,
                   help="x264 quality, 0 (lossless) .. 51; default 16, lower (down to 8) "
                        "for a source coded more finely, so the output keeps its detail")
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
    from ned.editing.controls import parse_adjust
    from ned.editing.timeline import Timeline, parse_segments

    out = Path(args.output)
    timeline = None
    if args.timeline is not None:
        timeline = Timeline.load(args.timeline)
    elif args.segments is not None:
        timeline = parse_segments(args.segments)
    adjust = parse_adjust(args.adjust) if args.adjust is not None else None
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
                  cues=None if args.cues is None else parse_cues(args.cues),
                  adjust=dict(adjust) if adjust else None, timeline=timeline, mark=args.mark)
    print(report.summary())
    if report.preview:
        print(f"{report.preview}: original | edited")
    return 0
