"""Sequence dataset of (expression window, emotion label) from analysed clips + a labels file.

Labels file (JSON, written by the builders in :mod:`ned.manipulator.builders`)::

    {"format": "ned-emotion-labels", "version": 1,
     "clips": [{"track": "tracks/M003_happy_001.npz", "emotion": "happy"},
               {"track": "tracks/1-30-1280x720.npz", "frame_emotions": [0, 0, 4, -1, ...]}]}

Track paths are relative to the labels file. A track is a FaceTrack (its ``blendshapes``
and ``valid``) or an ExpressionTrack. ``frame_emotions`` holds one index into
``ned.blendshapes.EMOTIONS`` per frame (-1 = unlabelled). A window is N consecutive valid
frames that all carry the same label.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ned.atomic import write_text
from ned.blendshapes import EMOTIONS
from ned.errors import NedError
from ned.records import ExpressionTrack, FaceTrack

LABELS_FORMAT = "ned-emotion-labels"


def write_labels(path: str | os.PathLike, clips: list[dict]) -> Path:
    """Write a labels file atomically. ``clips``: dicts as in the module docstring."""
    return write_text(path, json.dumps({"format": LABELS_FORMAT, "version": 1,
                                        "clips": clips}) + "\n")


def read_labels(path: str | os.PathLike) -> list[dict]:
    """Read and check a labels file; returns the clip entries with absolute track paths."""
    path = Path(path)
    if not path.is_file():
        raise NedError(f"labels file not found: {path}")
    try:
        doc = json.loads(path.read_text())
    except ValueError as e:
        raise NedError(f"{path} is not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != LABELS_FORMAT:
        raise NedError(f"{path} is not a ned emotion labels file")
    clips = []
    for i, c in enumerate(doc.get("clips", [])):
        if "track" not in c or ("emotion" in c) == ("frame_emotions" in c):
            raise NedError(f"{path}: clip {i} needs a track and one of emotion/frame_emotions")
        if "emotion" in c and c["emotion"] not in EMOTIONS:
            raise NedError(f"{path}: clip {i} has unknown emotion {c['emotion']!r}")
        clips.append({**c, "track": str(path.parent / c["track"])})
    return clips


def load_expressions(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(T, E) float32 expressions and (T,) bool valid from a FaceTrack or ExpressionTrack."""
    with np.load(path, allow_pickle=False) as z:
        kind = str(z["__kind__"]) if "__kind__" in z.files else ""
    if kind == "ExpressionTrack":
        e = ExpressionTrack.load(path)
        return e.expressions.astype(np.float32), e.valid
    t = FaceTrack.load(path)
    return t.blendshapes.astype(np.float32), t.valid


@dataclass
class SequenceDataset:
    """Windows of N frames with emotion labels.

    Attributes:
        clips: list of (T_i, E) float32 expression arrays.
        index: (K, 3) int64 rows (clip, start frame, label) of the usable windows.
        window: N.
    """

    clips: list[np.ndarray]
    index: np.ndarray
    window: int

    @classmethod
    def from_arrays(cls, items: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                    window: int = 10) -> SequenceDataset:
        """Build from (expressions (T,E), valid (T,), labels (T,) int, -1 = none) triples."""
        clips, rows = [], []
        for ci, (x, v, lab) in enumerate(items):
            x, v, lab = np.asarray(x, np.float32), np.asarray(v, bool), np.asarray(lab)
            if len(x) != len(v) or len(x) != len(lab):
                raise NedError(f"clip {ci}: expressions, valid and labels differ in length")
            clips.append(x)
            ok = v & (lab >= 0)
            for s in range(len(x) - window + 1):
                seg = lab[s:s + window]
                if ok[s:s + window].all() and (seg == seg[0]).all():
                    rows.append((ci, s, int(seg[0])))
        index = np.array(rows, np.int64).reshape(-1, 3)
        if len(index) == 0:
            raise NedError(f"no labelled run of {window} valid frames in the dataset")
        return cls(clips, index, window)

    @classmethod
    def from_labels(cls, labels_path: str | os.PathLike, window: int = 10) -> SequenceDataset:
        """Build from a labels file (module docstring)."""
        items = []
        for c in read_labels(labels_path):
            x, v = load_expressions(c["track"])
            if "emotion" in c:
                lab = np.full(len(x), EMOTIONS.index(c["emotion"]), np.int64)
            else:
                lab = np.asarray(c["frame_emotions"], np.int64)
            items.append((x, v, lab))
        return cls.from_arrays(items, window)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def domains(self) -> np.ndarray:
        """Emotion indices that have at least one window."""
        return np.unique(self.index[:, 2])

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        return np.stack([self.clips[c][s:s + self.window] for c, s, _ in self.index[rows]])

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        """A training batch: x (B,N,E), y (B,), y_trg (B,), x_ref (B,N,E) of domain y_trg."""
        rows = rng.integers(len(self.index), size=batch)
        doms = self.domains
        y_trg = doms[rng.integers(len(doms), size=batch)]
        ref_rows = np.array([rng.choice(np.flatnonzero(self.index[:, 2] == d)) for d in y_trg])
        return {"x": self._gather(rows), "y": self.index[rows, 2].copy(),
                "y_trg": y_trg.astype(np.int64), "x_ref": self._gather(ref_rows)}
