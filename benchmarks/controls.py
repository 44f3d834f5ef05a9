"""What each expression control does to a bundled clip, re-measured: the table of
docs/controls.md.

Every control at +1 and -1 on each clip: the frames edited by the preview's planner and
warp (``ned.editing.preview.Previewer``, the same as ``ned edit --adjust``), re-measured
by the analyser in image mode on face crops (``ned.metrics.direction``), the change of the
control's measure and the inner-lip opening's r with the source. With ``--sheet`` also a
picture of each control at -1 | source | +1.

    python benchmarks/controls.py [--clips tests/data/single_face.mp4 ...] [--every 1]
        [--sheet docs/images/controls_single_face.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ned.editing.config import EditConfig
from ned.editing.controls import NAMES
from ned.editing.preview import Previewer
from ned.editing.run import _one_thread
from ned.metrics.direction import MEASURES, remeasure

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def table(clips: list[Path], every: int) -> None:
    print("| clip | control | measure | at -1 | at +1 | lip r at -1 / +1 |")
    print("|---|---|---|---|---|---|")
    for clip in clips:
        pv = Previewer(clip)
        frames = np.flatnonzero(pv.valid)[::every]
        with _one_thread():
            for name in NAMES:
                got = {v: remeasure(pv, EditConfig.build(adjust={name: v}), frames)
                       for v in (-1.0, 1.0)}
                print(f"| {clip.stem} | {name} | {MEASURES[name][1]} | "
                      f"{got[-1.0].change(name):+.3f} | {got[1.0].change(name):+.3f} | "
                      f"{got[-1.0].lip_r():.3f} / {got[1.0].lip_r():.3f} |", flush=True)
        pv.close()


def sheet(clip: Path, out: Path, frame: int) -> None:
    """Each control at -1 | source | +1 on one frame, cropped to the face."""
    import cv2

    pv = Previewer(clip)
    rows = []
    with _one_thread():
        for name in NAMES:
            imgs = [pv.frame(EditConfig.build(adjust={name: v}), frame).edited
                    for v in (-1.0, 1.0)]
            src = pv.source(frame)
            lm = pv.plan(EditConfig.build(adjust={name: 1.0}), frame).src
            lo, hi = lm[:, :2].min(0), lm[:, :2].max(0)
            c, half = (lo + hi) / 2, 0.62 * float(max(hi - lo))
            x0, y0 = np.maximum((c - half).astype(int), 0)
            x1, y1 = (c + half).astype(int)
            tiles = [cv2.resize(im[y0:y1, x0:x1], (200, 200)) for im in (imgs[0], src, imgs[1])]
            row = np.concatenate(tiles, 1)
            cv2.putText(row, f"{name}: -1 | source | +1", (6, 18), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, (255, 255, 255), 1, cv2.LINE_AA)
            rows.append(row)
    half_n = (len(rows) + 1) // 2
    left = np.concatenate(rows[:half_n], 0)
    right = np.concatenate(rows[half_n:] + [np.zeros_like(rows[0])] * (2 * half_n - len(rows)),
                           0)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate([left, right], 1), cv2.COLOR_RGB2BGR))
    print(f"{out}: each control at -1 | source | +1 ({clip.name}, frame {frame})")
    pv.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", type=Path,
                    default=[DATA / "single_face.mp4", DATA / "carphone.mp4"])
    ap.add_argument("--every", type=int, default=1, help="use every n-th face frame")
    ap.add_argument("--sheet", type=Path, help="write a picture of each control here")
    ap.add_argument("--frame", type=int, default=8, help="the sheet's frame")
    ap.add_argument("--no-table", action="store_true")
    args = ap.parse_args()
    if args.sheet:
        sheet(args.clips[0], args.sheet, args.frame)
    if not args.no_table:
        table(args.clips, args.every)


if __name__ == "__main__":
    main()
