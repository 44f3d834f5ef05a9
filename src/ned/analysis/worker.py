"""The background analysis process of ``ned edit`` (see :class:`ned.analysis.stream.LiveAnalysis`).

    python -m ned.analysis.worker VIDEO OUTPUT CONFIG_JSON CHUNK

Analyses VIDEO into the FaceTrack record OUTPUT and sends its rows, CHUNK frames at a
time, down stdout (:func:`ned.analysis.stream.write_message`), then END once every
frame is sent, then DONE once the record is written (or ERROR / CRASH:
:class:`ned.analysis.stream.MessageKind`); a :class:`ned.errors.NedWarning` is sent as
WARNING. SIGTERM and SIGHUP stop it cleanly (no record, no spill folder left); SIGINT is
left to the parent.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
import warnings


class _Stopped(Exception):
    pass


def _stop(*_: object) -> None:
    raise _Stopped


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles interrupts
    signal.signal(signal.SIGTERM, _stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _stop)
    out = os.fdopen(os.dup(1), "wb")              # messages only: stray prints go to stderr
    os.dup2(2, 1)
    from ned.analysis.analyze import AnalysisConfig, FrameRow, analyze_to_file
    from ned.analysis.stream import MessageKind, stack_rows
    from ned.analysis.stream import write_message as _write
    from ned.errors import NedError, NedWarning

    lock = threading.Lock()  # warnings come from the decoding thread too

    def write_message(*args: object, **kwargs: object) -> None:
        with lock:
            _write(*args, **kwargs)

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, NedWarning):
            write_message(out, MessageKind.WARNING, str(message))
        else:
            original(message, category, filename, lineno, file, line)

    original = warnings.showwarning
    warnings.showwarning = show
    warnings.simplefilter("always", NedWarning)

    video, output, config, chunk = argv[0], argv[1], json.loads(argv[2]), int(argv[3])
    rows: list[FrameRow] = []
    sent = 0

    def on_row(row: FrameRow) -> None:
        nonlocal sent
        rows.append(row)
        if len(rows) >= chunk:
            write_message(out, MessageKind.ROWS, chunk=stack_rows(rows, sent))
            sent += len(rows)
            rows.clear()

    def on_end() -> None:  # every row is sent before the record is written
        if rows:
            write_message(out, MessageKind.ROWS, chunk=stack_rows(rows, sent))
        write_message(out, MessageKind.END)

    try:
        summary = analyze_to_file(video, output, AnalysisConfig.from_dict(config),
                                  on_row=on_row, on_end=on_end)
        write_message(out, MessageKind.DONE, summary.to_dict())
    except (_Stopped, BrokenPipeError):
        return 1
    except NedError as e:
        write_message(out, MessageKind.ERROR, str(e))
        return 1
    except Exception:  # reported to the parent, which raises it
        write_message(out, MessageKind.CRASH, traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
