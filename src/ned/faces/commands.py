"""``ned faces``: the faces of a clip, with a thumbnail sheet."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("faces", help="list the faces of a clip (to pick --face-index)",
                       description="List the faces a clip shows, numbered as --face-index "
                                   "numbers them, and write a thumbnail sheet.")
    p.add_argument("video", help="input video")
    p.add_argument("--sheet", metavar="PNG",
                   help="thumbnail sheet to write (default <video name>_faces.png here)")
    p.add_argument("--every", type=float, default=0.2,
                   help="seconds between the frames looked at (default 0.2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ned.atomic import check_output
    from ned.faces.find import find_faces, write_sheet

    sheet = Path(args.sheet) if args.sheet else Path(f"{Path(args.video).stem}_faces.png")
    check_output(sheet, inputs=(args.video,), suffixes=(".png",), what="sheet")
    report = find_faces(args.video, every=args.every)
    for line in report.lines():
        print(line)
    print(f"{write_sheet(report, sheet)}: thumbnails")
    return 0
