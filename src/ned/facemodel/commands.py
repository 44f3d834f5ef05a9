"""``ned conditions``: a FaceTrack -> a video (or PNG) of frame | NMFC | shape | eyes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ned.errors import NedError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("conditions", help="draw the renderer's conditioning images of a clip",
                       description="Draw the aligned frame, NMFC, shape and eye images side "
                                   "by side for every frame of an analysed clip.")
    p.add_argument("track", help="FaceTrack record (.npz) written by `ned analyze`")
    p.add_argument("-o", "--output", help="output video (.mp4/.mov/.mkv)")
    p.add_argument("--plot", metavar="PNG", help="also write one frame's strip as a PNG")
    p.add_argument("--video", help="source video (default: the one recorded in the track)")
    p.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    p.add_argument("--model", action="store_true",
                   help="draw the fitted model's landmarks instead of the measured ones")
    p.set_defaults(func=run)


def _inputs(args: argparse.Namespace):
    from ned.records import FaceTrack

    if not args.output and not args.plot:
        raise NedError("nothing to write: give -o OUT.mp4 and/or --plot OUT.png")
    if args.output and Path(args.output).suffix.lower() not in VIDEO_SUFFIXES:
        raise NedError(f"output must be one of {', '.join(VIDEO_SUFFIXES)}: {args.output}")
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise NedError(f"--plot must name a .png file: {args.plot}")
    if args.size < 32 or args.size > 1024:
        raise NedError(f"--size must be between 32 and 1024, got {args.size}")
    track = FaceTrack.load(args.track)
    video = Path(args.video or track.source)
    if not video.is_file():
        raise NedError(f"source video not found: {video} (pass --video)")
    if not track.valid.any():
        raise NedError(f"{args.track} has no frame with a face")
    return track, video


def strip(frame_crop: np.ndarray, nmfc: np.ndarray, shape: np.ndarray,
          eyes: np.ndarray) -> np.ndarray:
    """(S, 4S, 3) uint8: aligned frame | NMFC | shape | eyes (float images in [0, 1])."""
    panels = [frame_crop] + [np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)
                             for a in (nmfc, shape, eyes)]
    return np.concatenate(panels, axis=1)


def _landmarks(track, use_model: bool) -> np.ndarray:
    if not use_model:
        return track.landmarks
    from ned.facemodel.fit import fit_track

    return fit_track(track).model_landmarks()


def run(args: argparse.Namespace) -> int:
    import cv2

    from ned.facemodel.conditions import ConditionRenderer, crop_matrices
    from ned.facemodel.fit import nearest_valid
    from ned.io.video import VideoWriter, read_frames

    track, video = _inputs(args)
    lm = _landmarks(track, args.model)
    valid = track.valid
    idx = np.flatnonzero(valid)
    lm = lm[nearest_valid(valid)]                  # invalid frames: nearest valid geometry
    mats = crop_matrices(lm, args.size)
    renderer = ConditionRenderer(size=args.size)
    s = args.size
    plot_at = int(idx[len(idx) // 2])
    writer = VideoWriter(args.output, fps=track.fps, size=(4 * s, s)) if args.output else None
    n = 0
    try:
        if writer is not None:
            writer.__enter__()
        for fr in read_frames(video):
            if fr.index >= track.n_frames:
                break
            i = fr.index
            crop = cv2.warpAffine(fr.image, mats[i].astype(np.float64), (s, s),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            c = renderer.render(lm[i:i + 1], mats[i:i + 1])
            out = strip(crop, c.nmfc[0], c.shape[0], c.eyes[0])
            if not valid[i]:
                out[:, s:] //= 4                   # no face measured: dimmed
            if writer is not None:
                writer.write(out)
            if args.plot and i == plot_at:
                _write_png(args.plot, out)
            n += 1
    except BaseException:
        if writer is not None:
            writer.__exit__(*__import__("sys").exc_info())
        raise
    if writer is not None:
        writer.__exit__(None, None, None)
        print(f"{args.output}: {n} frames of frame | NMFC | shape | eyes at {s}x{s}")
    if args.plot:
        print(f"{args.plot}: frame {plot_at}")
    return 0


def _write_png(path: str, rgb: np.ndarray) -> None:
    import cv2

    from ned.atomic import atomic_write

    with atomic_write(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise NedError(f"cannot write {path}")
