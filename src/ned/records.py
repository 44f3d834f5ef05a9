"""Typed records passed between stages, each saved as one versioned ``.npz``.

Every record file holds ``__kind__`` (the class name) and ``__schema__`` (its version);
loading a file of another kind or version raises :class:`~ned.errors.NedError`.
Files are written to a temporary name and renamed, so no half-written record is left.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from ned.atomic import atomic_write
from ned.blendshapes import N_BLENDSHAPES
from ned.errors import NedError
from ned.topology import N_LANDMARKS

SCHEMA_VERSION = 1

R = TypeVar("R", bound="Record")


class Record:
    """Mixin: versioned npz save/load for dataclasses of arrays and plain values."""

    KIND: ClassVar[str] = "Record"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the record to ``path`` (atomically). Returns the path."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                arrays[f.name] = v
            else:
                meta[f.name] = list(v) if isinstance(v, tuple) else v
        arrays["__kind__"] = np.array(self.KIND)
        arrays["__schema__"] = np.array(SCHEMA_VERSION)
        arrays["__meta__"] = np.array(json.dumps(meta))
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls: type[R], path: str | os.PathLike) -> R:
        """Read a record written by :meth:`save`; checks kind and schema version."""
        path = Path(path)
        if not path.is_file():
            raise NedError(f"record not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise NedError(f"{path} is not a ned record ({e.__class__.__name__})") from None
        if "__kind__" not in data or "__schema__" not in data:
            raise NedError(f"{path} is not a ned record")
        kind, schema = str(data["__kind__"]), int(data["__schema__"])
        if kind != cls.KIND:
            raise NedError(f"{path} holds a {kind}, expected a {cls.KIND}")
        if schema != SCHEMA_VERSION:
            raise NedError(f"{path} has record schema version {schema}; this ned reads "
                           f"version {SCHEMA_VERSION} (re-run the stage that wrote it)")
        meta = json.loads(str(data["__meta__"]))
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                kwargs[f.name] = data[f.name]
            elif f.name in meta:
                v = meta[f.name]
                kwargs[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kwargs)


@dataclass
class FaceTrack(Record):
    """One tracked face over a clip, as measured by the analysis stage.

    Attributes:
        landmarks: (T, 478, 3) float32, smoothed. x, y in pixels of the decoded (displayed)
            frame; z in the same pixel scale (MediaPipe's z times the frame width),
            smaller is nearer the camera.
        landmarks_raw: (T, 478, 3) float32, the landmarker's unsmoothed output.
        blendshapes: (T, 52) float32 in [0, 1], order of ``ned.blendshapes.BLENDSHAPE_NAMES``.
        transforms: (T, 4, 4) float32, the landmarker's face transformation matrix
            (canonical mesh, cm, -> camera frame), smoothed.
        confidence: (T,) float32 detection/tracking score of the tracked face (0 if none).
        valid: (T,) bool, True where the tracked face was found.
        timestamps: (T,) float64 seconds, presentation times of the frames.
        width, height: frame size in pixels (after rotation).
        fps: average frame rate of the source.
        source: path of the analysed clip.
        source_hash: content hash of the clip (for caches).
        face_index: which face was selected (0 = largest).
        cuts: (C,) int64 frame indices where a new shot starts (may be empty).
        blendshapes_raw: (T, 52) float32, the landmarker's unsmoothed blendshapes.
    """

    KIND: ClassVar[str] = "FaceTrack"

    landmarks: np.ndarray
    landmarks_raw: np.ndarray
    blendshapes: np.ndarray
    transforms: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    timestamps: np.ndarray
    width: int
    height: int
    fps: float
    source: str = ""
    source_hash: str = ""
    face_index: int = 0
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    blendshapes_raw: np.ndarray = field(
        default_factory=lambda: np.zeros((0, N_BLENDSHAPES), np.float32))

    def __post_init__(self) -> None:
        t = len(self.timestamps)
        if self.blendshapes_raw.size == 0:
            self.blendshapes_raw = self.blendshapes.copy()
        n, e = N_LANDMARKS, N_BLENDSHAPES
        shapes = {"landmarks": (t, n, 3), "landmarks_raw": (t, n, 3),
                  "blendshapes": (t, e), "transforms": (t, 4, 4), "confidence": (t,),
                  "valid": (t,), "blendshapes_raw": (t, e)}
        for name, shape in shapes.items():
            a = getattr(self, name)
            if a.shape != shape:
                raise NedError(f"FaceTrack.{name} has shape {a.shape}, expected {shape}")
        self.width, self.height = int(self.width), int(self.height)
        self.fps, self.face_index = float(self.fps), int(self.face_index)
        self.valid = self.valid.astype(bool)

    @property
    def n_frames(self) -> int:
        return len(self.timestamps)

    @property
    def valid_fraction(self) -> float:
        return float(self.valid.mean()) if self.n_frames else 0.0


@dataclass
class ExpressionTrack(Record):
    """A sequence of expression vectors (one per frame), e.g. the manipulator's output.

    Attributes:
        expressions: (T, E) float32 expression vectors (E = 52 for MediaPipe blendshapes).
        valid: (T,) bool, frames that carry a face.
        names: channel names, length E.
        fps: frame rate.
        target: what the sequence was translated to ("happy", "reference:<path>", "" = none).
        intensity: the intensity used.
        seed: the seed used (-1 if none).
        weight: (T,) float32 in [0, 1], how much of the edit applies per frame (ramps).
    """

    KIND: ClassVar[str] = "ExpressionTrack"

    expressions: np.ndarray
    valid: np.ndarray
    names: tuple[str, ...]
    fps: float
    target: str = ""
    intensity: float = 1.0
    seed: int = -1
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        t, e = self.expressions.shape
        if len(self.names) != e:
            raise NedError(f"ExpressionTrack has {e} channels but {len(self.names)} names")
        if self.valid.shape != (t,):
            raise NedError(f"ExpressionTrack.valid has shape {self.valid.shape}, expected ({t},)")
        if self.weight.size == 0:
            self.weight = np.ones(t, np.float32)
        self.valid = self.valid.astype(bool)
        self.names = tuple(str(n) for n in self.names)


class NpzSpool:
    """Build a record file frame by frame without holding the arrays in memory.

    Per-frame rows are appended to temporary raw files; :meth:`finish` streams them into
    one compressed ``.npz`` readable by :meth:`Record.load`, written atomically.

    Args:
        kind: the record class's ``KIND``.
        rows: name -> (dtype, per-row shape) of each per-frame array.
        workdir: folder for the temporary raw files.
    """

    def __init__(self, kind: str, rows: dict[str, tuple[Any, tuple[int, ...]]],
                 workdir: str | os.PathLike) -> None:
        self.kind, self.rows, self.n = kind, rows, 0
        self._dir = Path(workdir)
        self._files = {k: open(self._dir / f"{k}.raw", "wb") for k in rows}

    def append(self, **values: np.ndarray) -> None:
        """Append one row to each array (every name of ``rows`` must be given)."""
        for k, (dtype, shape) in self.rows.items():
            v = np.asarray(values[k], dtype)
            if v.shape != shape:
                raise ValueError(f"{k}: row shape {v.shape}, expected {shape}")
            self._files[k].write(v.tobytes())
        self.n += 1

    def finish(self, path: str | os.PathLike, meta: dict[str, Any],
               extra: dict[str, np.ndarray] | None = None) -> Path:
        """Write the record to ``path`` (atomically) and close the temporary files."""
        for f in self._files.values():
            f.close()
        path = Path(path)
        # stored, not deflated: float rows shrink by ~10% for a long write at the end
        with atomic_write(path) as tmp, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for k, (dtype, shape) in self.rows.items():
                self._stream_array(zf, k, np.dtype(dtype), (self.n, *shape))
            small = dict(extra or {})
            small["__kind__"] = np.array(self.kind)
            small["__schema__"] = np.array(SCHEMA_VERSION)
            small["__meta__"] = np.array(json.dumps(meta))
            for k, v in small.items():
                with zf.open(f"{k}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asarray(v), allow_pickle=False)
        return path

    def _stream_array(self, zf: zipfile.ZipFile, name: str, dtype: np.dtype,
                      shape: tuple[int, ...]) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                  "shape": shape}
        with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_2_0(fh, header)
            with open(self._dir / f"{name}.raw", "rb") as src:
                while chunk := src.read(1 << 22):
                    fh.write(chunk)


def _open_member(z: zipfile.ZipFile, name: str):
    fh = z.open(f"{name}.npy")
    version = np.lib.format.read_magic(fh)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read(fh)
    if fortran:
        raise NedError(f"{name}: Fortran-ordered arrays are not supported")
    return fh, shape, dtype


def load_fields(path: str | os.PathLike, names: list[str] | tuple[str, ...],
                kind: str | None = None) -> dict[str, Any]:
    """Read only some fields of a record file (arrays and scalar metadata).

    Args:
        path: a record ``.npz``.
        names: field names to read.
        kind: if given, the record kind the file must hold.

    Returns:
        name -> array (for array fields) or value (for metadata fields).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            members = {n[:-4] for n in z.namelist()}
            meta = json.loads(str(np.load(z.open("__meta__.npy"))))
            got = str(np.load(z.open("__kind__.npy")))
            if kind is not None and got != kind:
                raise NedError(f"{path} holds a {got}, expected a {kind}")
            out: dict[str, Any] = {}
            for n in names:
                if n in members:
                    out[n] = np.load(z.open(f"{n}.npy"), allow_pickle=False)
                elif n in meta:
                    out[n] = meta[n]
                else:
                    raise NedError(f"{path} has no field {n!r}")
            return out
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise NedError(f"{path} is not a ned record ({e.__class__.__name__})") from None


def iter_rows(path: str | os.PathLike, name: str, chunk: int = 256):
    """Stream an array field of a record file in chunks of rows, never loading it whole.

    Args:
        path: a record ``.npz``.
        name: array field, e.g. ``"landmarks"``.
        chunk: rows per chunk.

    Yields:
        (start, rows): the first row's index and a (n <= chunk, ...) array.
    """
    with zipfile.ZipFile(path) as z:
        fh, shape, dtype = _open_member(z, name)
        row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        start = 0
        with fh:
            while start < shape[0]:
                n = min(chunk, shape[0] - start)
                buf = fh.read(n * row)
                yield start, np.frombuffer(buf, dtype).reshape(n, *shape[1:])
                start += n
