"""Thin command-line interface: ``ned <command> ...``.

Each stage sub-package contributes its commands from a ``commands.py`` module defining
``register(subparsers)``; the parser it adds sets ``func(args) -> int``. User errors
(:class:`ned.errors.NedError`) print one line and exit 1, never a traceback; warnings
(:class:`ned.errors.NedWarning`) print one line each (each distinct one once); SIGINT,
SIGTERM and SIGHUP stop a command cleanly (no partial output, no temporary files) with
exit 128 + the signal's number; a closed stdout (``ned ... | head``) does not stop it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence

from ned import __version__
from ned.errors import Interrupted, NedError, NedWarning, signals_as_interrupt

#: Modules that register sub-commands, in help order.
COMMAND_MODULES = (
    "ned.analysis.commands",
    "ned.faces.commands",
    "ned.facemodel.commands",
    "ned.manipulator.commands",
    "ned.editing.commands",
    "ned.render.commands",
    "ned.metrics.commands",
    "ned.app.commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="ned", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ned {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


class _ClosedSafe:
    """stdout whose reader may go away: after a broken pipe further output is dropped
    (the command still finishes and writes its files)."""

    def __init__(self, stream: object) -> None:
        self._stream, self.broken = stream, False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._broke()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._broke()

    def _broke(self) -> None:
        self.broken = True
        try:  # the interpreter's final flush must not fail again
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        except (AttributeError, OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _user_streams() -> Iterator[None]:
    """Inside: NedWarnings print as one ``ned: warning:`` line each (each distinct
    message once), and a closed stdout is tolerated."""
    shown: set[str] = set()
    out = _ClosedSafe(sys.stdout)

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, NedWarning):
            text = str(message)
            if text not in shown:
                shown.add(text)
                print(f"ned: warning: {text}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    original = warnings.showwarning
    old_stdout = sys.stdout
    sys.stdout = out
    try:
        with warnings.catch_warnings():  # restores the filters and showwarning after
            warnings.showwarning = show
            warnings.simplefilter("always", NedWarning)
            yield
    finally:
        if sys.stdout is out:
            sys.stdout = old_stdout


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ned`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _user_streams(), signals_as_interrupt():
            return int(args.func(args) or 0)
    except NedError as e:
        print(f"ned: error: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f"ned: interrupted ({e.name}), no output written", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("ned: interrupted, no output written", file=sys.stderr)
        return 130
    except OSError as e:  # the disk filled up, a file vanished, ...: the user's machine
        if os.environ.get("NED_DEBUG"):
            raise
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPIPE):
            print(f"ned: error: {e.strerror}" + (f": {e.filename}" if e.filename else ""),
                  file=sys.stderr)
            return 1
        print(f"ned: internal error: {e.__class__.__name__}: {e} "
              "(set NED_DEBUG=1 for a traceback)", file=sys.stderr)
        return 3
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
