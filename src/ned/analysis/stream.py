"""Per-frame analysis rows as a stream of chunks: read back from a FaceTrack record, or
produced live by the analysis running in a background process.

The live stream lets ``ned edit`` render frame ``i`` while the analyser is still working
on later frames (the landmarker is single-threaded; the edit's own work runs on the other
core). Both sources yield the same :class:`RowChunk` values for the same clip and options,
so a first (live) and a second (cached) edit are identical.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ned.analysis.analyze import ROW_FIELDS, AnalysisConfig, AnalysisSummary, FrameRow
from ned.errors import NedError, warn
from ned.records import FaceTrack, iter_rows, load_fields

#: The fields a chunk carries (besides ``cut``).
CHUNK_FIELDS = ("valid", "landmarks", "blendshapes", "transforms", "timestamps")
#: The fields a chunk carries when the analysis looked for occluders.
OCCLUSION_CHUNK_FIELDS = ("occlusion", "hands")


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
        occlusion: (n, s * s / 8) uint8 the appearance check's blobs as bits of the
            aligned crop, or None (see :func:`ned.analysis.analyze.occlusion_fields`).
        hands: (n, 4, 21, 2) float32 hand landmarks, frame pixels, NaN where none; or
            None.
    """

    start: int
    valid: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray
    transforms: np.ndarray
    timestamps: np.ndarray
    cut: np.ndarray
    occlusion: np.ndarray | None = None
    hands: np.ndarray | None = None

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
    with zipfile.ZipFile(path) as z:
        has_occlusion = all(f"{k}.npy" in z.namelist() for k in OCCLUSION_CHUNK_FIELDS)
    extra = [iter_rows(path, k, chunk) for k in OCCLUSION_CHUNK_FIELDS] if has_occlusion else []
    for start, lm in iter_rows(path, "landmarks", chunk):
        sl = slice(start, start + len(lm))
        more = {k: next(it)[1] for k, it in zip(OCCLUSION_CHUNK_FIELDS, extra)}
        yield RowChunk(start, small["valid"][sl], lm, small["blendshapes"][sl],
                       small["transforms"][sl], small["timestamps"][sl], cut[sl], **more)


def stack_rows(rows: list[FrameRow], start: int) -> RowChunk:
    """Consecutive analysis rows as one chunk whose first frame is ``start``."""
    cols = {k: np.stack([np.asarray(getattr(r, k), ROW_FIELDS[k][0]) for r in rows])
            for k in CHUNK_FIELDS}
    if rows and rows[0].occlusion is not None:
        cols.update({k: np.stack([getattr(r, k) for r in rows])
                     for k in OCCLUSION_CHUNK_FIELDS})
    return RowChunk(start=start, cut=np.array([r.cut for r in rows], bool), **cols)


class MessageKind(str, Enum):
    """Messages of the analysis process to the edit (:func:`write_message`), in order:
    ROWS (a chunk) ..., END (every row sent), DONE (the record is written; its data is
    the :class:`AnalysisSummary`); or ERROR (a user error, one line) or CRASH (a traceback).
    WARNING (a :class:`ned.errors.NedWarning`'s line) may come between any of them; the
    edit issues it again. EOF is the reader's own: the process stopped without saying
    why."""

    ROWS = "rows"
    WARNING = "warning"
    END = "end"
    DONE = "done"
    ERROR = "error"
    CRASH = "crash"
    EOF = "eof"


# -- the pipe protocol: a JSON header line, then (for rows) the chunk's arrays in .npy form --
def write_message(fh: BinaryIO, kind: MessageKind, data: object = None,
                  chunk: RowChunk | None = None) -> None:
    """Send one message down a binary stream (``data``: JSON-able)."""
    head = {"kind": MessageKind(kind).value, "data": data}
    names = ()
    if chunk is not None:
        head["start"] = chunk.start
        names = _chunk_names(chunk)
        head["fields"] = names
    fh.write(json.dumps(head).encode() + b"\n")
    if chunk is not None:
        for k in names:  # header + raw bytes (a pipe cannot tell())
            a = np.ascontiguousarray(getattr(chunk, k))
            np.lib.format.write_array_header_2_0(fh, np.lib.format.header_data_from_array_1_0(a))
            fh.write(a.tobytes())
    fh.flush()


def read_message(fh: BinaryIO) -> tuple[MessageKind, object]:
    """Receive one message: (kind, data), data a :class:`RowChunk` for ROWS and an
    :class:`AnalysisSummary` for DONE."""
    line = fh.readline()
    if not line:
        raise EOFError
    head = json.loads(line)
    kind = MessageKind(head["kind"])
    if kind is MessageKind.DONE:
        return kind, AnalysisSummary.from_dict(head["data"])
    if kind is not MessageKind.ROWS:
        return kind, head["data"]
    names = head["fields"]
    if set(names) - {*CHUNK_FIELDS, "cut", *OCCLUSION_CHUNK_FIELDS}:
        raise ValueError("unexpected fields in the analysis stream")
    arrays = {k: _read_array(fh) for k in names}
    return kind, RowChunk(start=int(head["start"]), **arrays)


def _chunk_names(chunk: RowChunk) -> tuple[str, ...]:
    """The arrays a chunk's message carries, in order."""
    extra = OCCLUSION_CHUNK_FIELDS if chunk.occlusion is not None else ()
    return (*CHUNK_FIELDS, "cut", *extra)


def _read_array(fh: BinaryIO) -> np.ndarray:
    """One .npy array from a stream that cannot seek (np.load needs a file position)."""
    fmt = np.lib.format
    if fmt.read_magic(fh) != (2, 0):
        raise ValueError("unexpected array version in the analysis stream")
    shape, fortran, dtype = fmt.read_array_header_2_0(fh)
    if dtype.hasobject or fortran:
        raise ValueError("unexpected array layout in the analysis stream")
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    data = fh.read(size)
    if len(data) != size:
        raise EOFError
    return np.frombuffer(data, dtype).reshape(shape).copy()


class LiveAnalysis:
    """Analyse a clip in a background process and stream its rows as they come.

    The process (``python -m ned.analysis.worker``) writes the record to ``output``
    (atomically, after the last row is sent), so it can serve as a cache entry; a reader
    thread keeps up to ``depth`` chunks ready. Iteration ends as soon as every row is
    here; leaving the block then waits for the record (:attr:`summary` is set). Use as a
    context manager: leaving the block early stops the process and leaves no record.

    Args:
        video: the clip.
        output: the FaceTrack ``.npz`` to write.
        config: analysis options.
        chunk: frames per chunk sent.
        depth: chunks held ready (bounds memory when the consumer is slower).
    """

    def __init__(self, video: str | os.PathLike, output: str | os.PathLike,
                 config: AnalysisConfig | None = None, chunk: int = 8, depth: int = 32) -> None:
        if chunk < 1 or depth < 1:
            raise NedError("chunk and depth must be >= 1")
        self.output = Path(output)
        self._args = [sys.executable, "-m", "ned.analysis.worker", str(video), str(output),
                      json.dumps((config or AnalysisConfig()).to_dict()), str(chunk)]
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._proc: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile()
        self._stop = threading.Event()
        self._ended = False
        self.summary: AnalysisSummary | None = None
        self.waited = 0.0  # seconds the consumer waited for rows

    def __enter__(self) -> LiveAnalysis:
        # the child imports this very copy of ned, even when it is not installed
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        # glibc returns freed frame-sized blocks to the system at once (its default
        # threshold rises to 32 MB after the first large free, and a 4K clip's analysis
        # then held about 50 MB more); a caller's own setting is kept
        env = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 20),
               **os.environ, "PYTHONPATH": path}
        self._proc = subprocess.Popen(self._args, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        """Reader thread: messages from the pipe into the queue (blocks when full)."""
        try:
            while not self._stop.is_set():
                msg = read_message(self._proc.stdout)
                while not self._stop.is_set():
                    try:
                        self._queue.put(msg, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if msg[0] not in (MessageKind.ROWS, MessageKind.END, MessageKind.WARNING):
                    return
        except (EOFError, OSError, ValueError):
            self._queue.put((MessageKind.EOF, None))

    def __iter__(self) -> Iterator[RowChunk]:
        if self._proc is None:
            raise NedError("LiveAnalysis must be entered (with ...) before iterating")
        while True:
            try:
                kind, data = self._queue.get_nowait()
            except queue.Empty:
                t = time.perf_counter()
                kind, data = self._queue.get()
                self.waited += time.perf_counter() - t
            if kind is MessageKind.ROWS:
                yield data
            elif kind is MessageKind.WARNING:
                warn(str(data))
            elif kind is MessageKind.END:  # every row is here; the record is being written
                self._ended = True
                return
            elif kind is MessageKind.ERROR:
                raise NedError(data)
            elif kind is MessageKind.CRASH:
                raise RuntimeError(f"the analysis process failed:\n{data}")
            else:
                code = self._proc.wait()
                self._stderr.seek(0)
                tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-3:]
                raise NedError(f"the analysis process stopped unexpectedly (exit code {code})"
                               + (f": {tail[-1]}" if tail else ""))

    def _finish_record(self) -> None:
        """After END: wait for DONE (the record is written) and keep its summary."""
        while True:
            try:
                kind, data = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._proc.poll() is not None and not self._reader.is_alive():
                    return
                continue
            if kind is MessageKind.WARNING:
                warn(str(data))
                continue
            if kind is MessageKind.DONE:
                self.summary = data
            if kind is not MessageKind.ROWS:
                self._proc.wait()
                return

    def close(self) -> None:
        """Stop the process if it still runs and wait for it."""
        if self._proc is None:
            return
        if self._ended:  # let it finish writing the record (the cache entry)
            self._finish_record()
        self._stop.set()
        if self._proc.poll() is None:
            self._proc.terminate()  # the worker stops cleanly on SIGTERM
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=5)
        self._proc.stdout.close()
        self._stderr.close()
