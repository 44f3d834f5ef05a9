"""``ned app``: the local web app."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="the local web app (needs the [app] extra)",
                       description="Serve the web app: open a clip, pick the face, choose "
                                   "emotions, controls and time ranges, preview any frame, "
                                   "render, download, export the timeline.")
    p.add_argument("clip", nargs="?", help="a clip to open at start")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from ned.errors import NedError

    if importlib.util.find_spec("gradio") is None:
        raise NedError("ned app needs the app extra: pip install -e '.[app]'")
    if args.clip is not None:
        from pathlib import Path

        if not Path(args.clip).is_file():
            raise NedError(f"no such video file: {args.clip}")
    from ned.app.ui import launch

    print(f"ned app: http://{args.host}:{args.port} (Ctrl-C to stop)")
    launch(args.host, args.port, args.clip)
    return 0
