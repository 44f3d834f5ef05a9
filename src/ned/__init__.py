"""ned: Neural Emotion Director. Change the emotion of a face in a video, keep the speech."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
