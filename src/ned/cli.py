"""Thin command-line interface: ``ned <command> ...``.

Each stage sub-package contributes its commands from a ``commands.py`` module defining
``register(subparsers)``; the parser it adds sets ``func(args) -> int``. User errors
(:class:`ned.errors.NedError`) print one line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ned import __version__
from ned.errors import NedError

#: Modules that register sub-commands, in help order.
COMMAND_MODULES = (
    "ned.analysis.commands",
    "ned.facemodel.commands",
    "ned.manipulator.commands",
    "ned.editing.commands",
    "ned.render.commands",
    "ned.metrics.commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="ned", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ned {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ned`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NedError as e:
        print(f"ned: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ned: interrupted, no output written", file=sys.stderr)
        return 130
    except MemoryError:
        print("ned: error: out of memory", file=sys.stderr)
        return 1
    except Exception as e:  # last line of defence: one line, no traceback
        if os.environ.get("NED_DEBUG"):
            raise
        print(f"ned: internal error: {e.__class__.__name__}: {e} "
              "(set NED_DEBUG=1 for a traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
