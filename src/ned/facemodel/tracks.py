"""Analysed records of clips for the face model's builders (and other stages' helpers).

Kept for callers written before the analysis stage existed; it now simply runs
``ned.analysis.analyze`` with default settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from ned.errors import NedError
from ned.records import FaceTrack


def track_for_clip(path: str | os.PathLike) -> FaceTrack:
    """Analyse a clip into a :class:`~ned.records.FaceTrack` (``ned.analysis.analyze``)."""
    path = Path(path)
    if not path.is_file():
        raise NedError(f"video not found: {path}")
    from ned.analysis import analyze

    return analyze(path)
