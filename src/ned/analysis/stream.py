"""Per-frame analysis rows as a stream of chunks: read back from a FaceTrack record, or
produced live by the analysis running in a background process.

The live stream lets ``ned edit`` render frame ``i`` while the analyser is still working
on later frames (the landmarker is single-threaded; the edit's own work runs on the other
core). Both sources yield the same :class:`RowChunk` values for the same clip and options,
so a first (live) and a second (cached) edit are identical.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ned.analysis.analyze import ROW_FIELDS, AnalysisConfig, analyze_to_file
from ned.errors import NedError
from ned.records import FaceTrack, iter_rows, load_fields

#: The fields a chunk carries (besides ``cut``).
CHUNK_FIELDS = ("valid", "landmarks", "blendshapes", "transforms", "timestamps")


@dataclass(frozen=True)
class RowChunk:
    """Consecutive frames of a FaceTrack.

    Attributes:
        start: index of the first frame.
        valid: (n,) bool.
        landmarks: (n, 478, 3) float32 smoothed landmarks, pixels (zeros where invalid).
        blendshapes: (n, 52) float32.
        transforms: (n, 4, 4) float32 face pose.
        timestamps: (n,) float64 seconds.
        cut: (n,) bool, True where a new shot starts.
    """

    start: int
    valid: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray
    transforms: np.ndarray
    timestamps: np.ndarray
    cut: np.ndarray

    def __len__(self) -> int:
        return len(self.valid)


def record_chunks(path: str | os.PathLike, chunk: int = 64) -> Iterator[RowChunk]:
    """Stream a FaceTrack record's rows (only the landmarks are read chunk by chunk; the
    small per-frame fields are read whole: 0.3 kB a frame).

    Args:
        path: a FaceTrack ``.npz``.
        chunk: frames per chunk (>= 1).

    Yields:
        :class:`RowChunk` in frame order.
    """
    if chunk < 1:
        raise NedError(f"chunk must be >= 1, got {chunk}")
    small = load_fields(path, (*CHUNK_FIELDS[:1], *CHUNK_FIELDS[2:], "cuts"), kind=FaceTrack.KIND)
    cut = np.zeros(len(small["valid"]), bool)
    cut[np.asarray(small["cuts"], int)] = True
    for start, lm in iter_rows(path, "landmarks", chunk):
        sl = slice(start, start + len(lm))
        yield RowChunk(start, small["valid"][sl], lm, small["blendshapes"][sl],
                       small["transforms"][sl], small["timestamps"][sl], cut[sl])


def _stack(rows: list[dict], start: int) -> RowChunk:
    cols = {k: np.stack([np.asarray(r[k], ROW_FIELDS[k][0]) for r in rows])
            for k in CHUNK_FIELDS}
    return RowChunk(start=start, cut=np.array([r["cut"] for r in rows], bool), **cols)


class _Stopped(Exception):
    pass


def _worker(video: str, output: str, config: AnalysisConfig, chunk: int, out: mp.Queue,
            stop: mp.Event, parent: int) -> None:
    """Body of the analysis process: analyse ``video`` into ``output``, sending chunks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles interrupts
    rows: list[dict] = []
    sent = 0

    def on_row(row: dict) -> None:
        nonlocal sent
        if stop.is_set() or os.getppid() != parent:
            raise _Stopped
        rows.append(row)
        if len(rows) >= chunk:
            out.put(("rows", _stack(rows, sent)))
            sent += len(rows)
            rows.clear()

    try:
        summary = analyze_to_file(video, output, config, on_row=on_row)
        if rows:
            out.put(("rows", _stack(rows, sent)))
        out.put(("done", summary))
    except _Stopped:
        out.put(("stopped", None))
    except NedError as e:
        out.put(("error", str(e)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        out.put(("crash", traceback.format_exc()))


class LiveAnalysis:
    """Analyse a clip in a background process and stream its rows as they come.

    The record is also written to ``output`` (atomically, at the end), so it can serve as
    a cache entry. Use as a context manager: leaving the block early stops the process and
    leaves no record behind.

    Args:
        video: the clip.
        output: the FaceTrack ``.npz`` to write.
        config: analysis options.
        chunk: frames per chunk sent.
        depth: chunks buffered between the processes (bounds memory when the consumer
            is slower than the analysis).
    """

    def __init__(self, video: str | os.PathLike, output: str | os.PathLike,
                 config: AnalysisConfig | None = None, chunk: int = 8, depth: int = 32) -> None:
        if chunk < 1 or depth < 1:
            raise NedError("chunk and depth must be >= 1")
        self.output = Path(output)
        ctx = mp.get_context("spawn")  # no fork: the parent may hold threads (torch, av)
        self._queue: mp.Queue = ctx.Queue(maxsize=depth)
        self._stop = ctx.Event()
        self._proc = ctx.Process(
            target=_worker, name="ned-analysis", daemon=True,
            args=(str(video), str(output), config or AnalysisConfig(), chunk, self._queue,
                  self._stop, os.getpid()))
        self._finished = False
        self.summary: dict | None = None

    def __enter__(self) -> LiveAnalysis:
        old = signal.getsignal(signal.SIGINT)
        try:  # the child starts with SIGINT ignored, so Ctrl-C never prints there
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            old = None
        try:
            self._proc.start()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[RowChunk]:
        while True:
            kind, data = self._get()
            if kind == "rows":
                yield data
                continue
            self._finished = True
            if kind == "done":
                self.summary = data
                return
            if kind == "error":
                raise NedError(data)
            raise RuntimeError(f"the analysis process failed:\n{data}")

    def _get(self) -> tuple[str, object]:
        while True:
            try:
                return self._queue.get(timeout=0.5)
            except queue.Empty:
                if not self._proc.is_alive():
                    try:  # it may have put its last message just before exiting
                        return self._queue.get(timeout=0.5)
                    except queue.Empty:
                        self._finished = True
                        raise NedError("the analysis process stopped unexpectedly "
                                       f"(exit code {self._proc.exitcode})") from None

    def close(self) -> None:
        """Stop the process if it still runs and wait for it."""
        if self._proc.pid is None:
            return
        self._stop.set()
        while not self._finished and self._proc.is_alive():
            try:  # drain, so the child's queue feeder can finish
                kind, _ = self._queue.get(timeout=0.2)
                self._finished = kind != "rows"
            except queue.Empty:
                continue
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()
        self._queue.close()
