"""User-facing errors: one clear line, no traceback (the CLI prints ``ned: <message>``).

Also the two other things a user sees instead of a result: a :class:`NedWarning` (the
work went on, but something was dropped or changed: ``ned: warning: <message>``), and an
:class:`Interrupted` run (SIGINT, SIGTERM or SIGHUP; nothing is left behind).
"""

from __future__ import annotations

import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class NedError(Exception):
    """An error caused by the user's input or environment, reported as one line."""


class NedWarning(UserWarning):
    """Something the user should know about a result that was still produced (a damaged
    stretch skipped, a format that could not be kept, a cache that could not be used)."""


def warn(message: str) -> None:
    """Issue a :class:`NedWarning` (one line; the CLI prints each distinct one once)."""
    warnings.warn(message, NedWarning, stacklevel=2)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP).

    A ``KeyboardInterrupt``, so every writer's clean-up runs as for Ctrl-C.

    Attributes:
        signum: the signal's number (the CLI exits with 128 + signum).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


#: Signals that stop a run cleanly (SIGHUP: a closed terminal; SIGTERM: kill, timeout,
#: service managers). SIGINT already raises KeyboardInterrupt by default.
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, n))


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Inside the block SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`, so the
    writers' clean-up runs (temporary files and folders removed, no partial output).

    Only signals left at their default action (or SIGINT's default handler) are taken
    over: a handler the host program installed itself is kept. Outside the main thread
    nothing changes.
    """
    old: dict[int, object] = {}
    try:
        for s in STOP_SIGNALS:
            current = signal.getsignal(s)
            if current in (signal.SIG_DFL, signal.default_int_handler):
                old[s] = signal.signal(s, _raise_interrupted)
    except ValueError:  # not the main thread
        for s, h in old.items():
            signal.signal(s, h)
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
