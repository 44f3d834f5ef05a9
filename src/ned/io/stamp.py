"""Provenance of what ned writes: container metadata and an optional visible mark.

Every video a :class:`ned.io.video.VideoWriter` opens inside :func:`stamped` carries the
stamp's metadata (``comment``: one line naming the tool, its version and the edit, kept by
every container ned writes; ``description``: the same as JSON, in MP4, M4V, Matroska and
WebM) and, if the stamp has a ``mark``, that text drawn in the frame's lower right corner
on every frame.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class OutputStamp:
    """What every output written inside :func:`stamped` carries.

    Attributes:
        metadata: container metadata, key -> text.
        mark: text drawn visibly on every frame (None: no mark).
    """

    metadata: Mapping[str, str] = field(default_factory=dict)
    mark: str | None = None


_STAMP: contextvars.ContextVar[OutputStamp | None] = contextvars.ContextVar(
    "ned_output_stamp", default=None)


@contextmanager
def stamped(stamp: OutputStamp | None) -> Iterator[None]:
    """Writers created inside the block carry ``stamp`` (None: nothing)."""
    token = _STAMP.set(stamp)
    try:
        yield
    finally:
        _STAMP.reset(token)


def current_stamp() -> OutputStamp | None:
    """The stamp of the writers created now (read when a writer is created, on the
    caller's thread)."""
    return _STAMP.get()


def mark_box(size: tuple[int, int], text: str) -> tuple[tuple[int, int, int, int], float]:
    """((x0, y0, x1, y1), font scale) of the mark on a (width, height) frame."""
    import cv2

    w, h = size
    scale = max(0.3, min(h, w) / 900)
    thick = max(1, round(2 * scale))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, round(4 * scale))
    x1, y1 = w - pad, h - pad
    x0, y0 = max(0, x1 - tw - 2 * pad), max(0, y1 - th - base - 2 * pad)
    return (x0 & ~1, y0 & ~1, min(w, x1 + 1), min(h, y1 + 1)), scale


def draw_mark(image: np.ndarray, text: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A copy of ``image`` (H, W, 3) uint8 RGB with ``text`` on a darkened box in its lower
    right corner, and the box changed."""
    import cv2

    h, w = image.shape[:2]
    (x0, y0, x1, y1), scale = mark_box((w, h), text)
    out = image.copy()
    region = out[y0:y1, x0:x1]
    region //= 3
    thick = max(1, round(2 * scale))
    pad = max(2, round(4 * scale))
    cv2.putText(out, text, (x0 + pad, y1 - pad - max(1, round(3 * scale))),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out, (x0, y0, x1, y1)
