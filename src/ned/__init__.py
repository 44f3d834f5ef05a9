"""ned: Neural Emotion Director. Change the emotion of a face in a video, keep the speech.

``ned.edit(video, output, emotion="happy")`` is the one call most users need; its options
are :class:`ned.EditConfig`, its result an :class:`ned.EditReport`. Everything is imported
lazily, so ``import ned`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from ned.editing.api import edit

__version__ = "0.1.0"

__all__ = ["EditConfig", "EditReport", "__version__", "edit"]


def __getattr__(name: str) -> Any:
    if name in ("EditConfig", "EditReport"):
        from ned.editing import config

        return getattr(config, name)
    raise AttributeError(f"module 'ned' has no attribute {name!r}")
