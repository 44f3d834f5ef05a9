"""``ned analyze``: a clip -> FaceTrack record (.npz)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ned.errors import NedError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="track one face and measure it in every frame",
                       description="Analyse a clip: landmarks, blendshapes and pose per frame.")
    p.add_argument("video", help="input video")
    p.add_argument("-o", "--output", help="output .npz (default: <video>.npz)")
    p.add_argument("--face-index", type=int, default=0,
                   help="which face to track: 0 = largest (default), 1 = second largest ...")
    p.add_argument("--no-smooth", action="store_true", help="keep the raw landmarker output")
    p.add_argument("--plot", metavar="PNG", nargs="?", const="",
                   help="also write blendshape curves and a landmark preview (PNG)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ned.analysis.analyze import AnalysisConfig, analyze_to_file
    from ned.atomic import check_output
    from ned.records import FaceTrack

    video = Path(args.video)
    if video.is_dir():
        raise NedError(f"{video} is a folder, not a video file")
    out = Path(args.output) if args.output else video.with_suffix(".npz")
    check_output(out, inputs=(video,), suffixes=(".npz",))
    png = None
    if args.plot is not None:  # checked before the analysis, not after it
        png = Path(args.plot) if args.plot else out.with_suffix(".png")
        check_output(png, inputs=(video, out), suffixes=(".png",), what="--plot")
    cfg = AnalysisConfig(face_index=args.face_index, smooth=not args.no_smooth)
    summary = analyze_to_file(video, out, cfg, progress=not args.quiet)
    frames, valid = summary.frames, summary.valid
    if valid == 0:
        print(f"ned: no face found in any of the {frames} frames of {video}; wrote {out} "
              "(every frame marked invalid)", file=sys.stderr)
    else:
        print(f"{out}: face on {valid}/{frames} frames ({100.0 * valid / frames:.1f}%)")
    if png is not None:
        _plot(FaceTrack.load(out), video, png)
        print(f"{png}: blendshape curves and landmark preview")
    return 0


def _plot(track, video: Path, png: Path) -> None:
    from ned.analysis.plot import plot_track, preview_index
    from ned.io.video import read_frames

    i = preview_index(track)
    frame = None
    if i is not None:
        frame = next(read_frames(video, start=i, stop=i + 1)).image
    plot_track(track, frame, png)
