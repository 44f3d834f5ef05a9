"""ned: Neural Emotion Director. Change the emotion of a face in a video, keep the speech."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "edit"]


def edit(video: Any, output: Any, **options: Any) -> Any:
    """Change the emotion of the face in ``video`` and write ``output``.

    See :func:`ned.pipeline.edit` for the options (emotion, reference, intensity, start,
    end, face_index, seed, preview, manipulator, progress, use_cache). Imported lazily, so
    ``import ned`` stays cheap.
    """
    from ned.pipeline import edit as _edit

    return _edit(video, output, **options)
